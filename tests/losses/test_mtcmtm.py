# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#     http://www.apache.org/licenses/LICENSE-2.0
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""MT-CMTM loss: InfoNCE, mask prediction (L1 / BCE) on observed cells only, reconstruction, bad arguments."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.losses.mtcmtm import MTCMTMLoss, info_nce


def _batch():
    return {"numerical": torch.zeros(4, 2), "numerical_mask": torch.tensor([[1., 0], [1, 1], [1, 1], [0, 1]]),
            "categorical": torch.ones(4, 1, dtype=torch.long), "categorical_mask": torch.ones(4, 1),
            "numerical_corruption": torch.tensor([[1., 0], [0, 1], [0, 0], [0, 0]]),
            "categorical_corruption": torch.tensor([[0.], [1], [0], [1]])}


def _flags_as_logits(batch, scale=8.0):
    flags = torch.cat([batch["numerical_corruption"], batch["categorical_corruption"]], 1)
    return (flags * 2 - 1) * scale


def test_info_nce_prefers_matched_pairs_and_is_symmetric():
    torch.manual_seed(0)
    x = torch.randn(6, 5)
    matched, shuffled = info_nce(x, x + 0.01 * torch.randn(6, 5)), info_nce(x, x[torch.randperm(6)])
    assert matched < shuffled
    y = torch.randn(6, 5)
    assert float(info_nce(x, y)) == pytest.approx(float(info_nce(y, x)), rel=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        info_nce(x[:1], y[:1])


@pytest.mark.parametrize("mask_loss", ["l1", "bce"])
def test_mask_term_rewards_the_right_flags(mask_loss):
    batch = _batch()
    loss = MTCMTMLoss(lambda_c=0.0, mask_loss=mask_loss)
    right = loss({"mask_logits": _flags_as_logits(batch)}, batch)["mask"]
    wrong = loss({"mask_logits": -_flags_as_logits(batch)}, batch)["mask"]
    assert float(right) < 0.01 < float(wrong)


@pytest.mark.parametrize("mask_loss", ["l1", "bce"])
def test_missing_cells_are_not_scored(mask_loss):
    batch = _batch()
    loss = MTCMTMLoss(lambda_c=0.0, mask_loss=mask_loss)
    logits = _flags_as_logits(batch)
    changed = logits.clone()
    changed[0, 1] = 50.0   # numerical cell (0, 1) is missing
    changed[3, 0] = -50.0  # numerical cell (3, 0) is missing
    assert torch.equal(loss({"mask_logits": logits}, batch)["mask"], loss({"mask_logits": changed}, batch)["mask"])
    changed[1, 0] = 50.0   # an observed cell: scored
    assert not torch.equal(loss({"mask_logits": logits}, batch)["mask"], loss({"mask_logits": changed}, batch)["mask"])


def test_lambdas_weight_the_terms():
    torch.manual_seed(0)
    batch = _batch()
    outputs = {"mask_logits": torch.randn(4, 3), "image_projection": torch.randn(4, 8),
               "table_projection": torch.randn(4, 8)}
    one = MTCMTMLoss()(outputs, batch)
    scaled = MTCMTMLoss(lambda_c=0.5, lambda_m=3.0)(outputs, batch)
    assert set(one) == {"contrastive", "mask"}
    assert float(scaled["contrastive"]) == pytest.approx(0.5 * float(one["contrastive"]), rel=1e-5)
    assert float(scaled["mask"]) == pytest.approx(3.0 * float(one["mask"]), rel=1e-5)


def test_reconstruction_term_scores_observed_cells_against_the_originals():
    batch = _batch()
    batch["numerical_original"] = torch.tensor([[1., 9], [2, 3], [4, 5], [9, 6]])
    batch["categorical_original"] = torch.tensor([[2], [1], [2], [1]])
    perfect_categories = torch.full((4, 1, 3), -20.0).scatter(2, batch["categorical_original"][..., None], 20.0)
    outputs = {"mask_logits": _flags_as_logits(batch),
               "numerical_reconstruction": batch["numerical_original"] * batch["numerical_mask"],
               "categorical_reconstruction": perfect_categories}
    terms = MTCMTMLoss(lambda_c=0.0, lambda_m=0.0, lambda_r=1.0)(outputs, batch)
    assert set(terms) == {"reconstruction"} and float(terms["reconstruction"]) < 1e-6  # missing cells unscored
    outputs["numerical_reconstruction"] = torch.zeros(4, 2)
    assert float(MTCMTMLoss(lambda_c=0.0, lambda_r=1.0)(outputs, batch)["reconstruction"]) > 1.0
    with pytest.raises(KeyError, match="reconstruction=True"):
        MTCMTMLoss(lambda_c=0.0, lambda_r=1.0)({"mask_logits": outputs["mask_logits"]}, batch)


def test_missing_corruption_flags_name_the_transform():
    batch = {k: v for k, v in _batch().items() if "corruption" not in k}
    with pytest.raises(KeyError, match="CorruptTabled"):
        MTCMTMLoss(lambda_c=0.0)({"mask_logits": torch.zeros(4, 3)}, batch)


@pytest.mark.parametrize("kwargs,match", [({"lambda_c": -1.0}, "lambda_c"), ({"mask_loss": "l2"}, "mask_loss"),
                                          ({"temperature": 0.0}, "temperature"),
                                          ({"lambda_c": 0.0, "lambda_m": 0.0}, "every lambda")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MTCMTMLoss(**kwargs)
