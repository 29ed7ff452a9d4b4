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
"""CHARMS similarity matrices, cost, transport plans and loss terms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_tabular.losses.charms import (CharmsLoss, alignment_cost, attribute_similarities, cluster_similarities,
                                         expand_plan, reference_alignment_cost, transport_plan)


def _table(n=24, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {"numerical": torch.randn(n, 3, generator=generator),
            "numerical_mask": (torch.rand(n, 3, generator=generator) > 0.3).float(),
            "categorical": torch.randint(0, 4, (n, 2), generator=generator),
            "categorical_mask": (torch.rand(n, 2, generator=generator) > 0.2).float()}


def test_fast_cost_matches_the_direct_formula_with_missing_cells():
    table = _table()
    clusters = cluster_similarities(torch.randn(24, 10), torch.randint(0, 3, (10,)), 3)
    sims, pairs = attribute_similarities(**table)
    fast = alignment_cost(clusters, **table, chunk=2)
    np.testing.assert_allclose(fast.numpy(), reference_alignment_cost(sims, pairs, clusters).numpy(), atol=1e-5)


def test_missing_cells_do_not_change_the_cost():
    table = _table()
    clusters = cluster_similarities(torch.randn(24, 10), torch.randint(0, 3, (10,)), 3)
    changed = {k: v.clone() for k, v in table.items()}
    missing_num, missing_cat = table["numerical_mask"] == 0, table["categorical_mask"] == 0
    changed["numerical"][missing_num] = 1000.0
    changed["categorical"][missing_cat] = 3
    assert missing_num.any() and missing_cat.any()
    torch.testing.assert_close(alignment_cost(clusters, **table), alignment_cost(clusters, **changed))


def test_attribute_similarity_kinds_and_pairs():
    sims, pairs = attribute_similarities(numerical=torch.tensor([[0.0], [0.0], [2.0]]),
                                         categorical=torch.tensor([[1], [2], [1]]))
    assert sims[0, 0, 1] == 1.0 and sims[0, 0, 2] < 1.0  # equal values, then distance-based
    assert sims[1].tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]  # category equality
    assert pairs.diagonal(dim1=1, dim2=2).abs().sum() == 0


def test_only_numerical_or_only_categorical_tables():
    clusters = cluster_similarities(torch.randn(12, 6), torch.tensor([0, 0, 1, 1, 2, 2]), 3)
    assert alignment_cost(clusters, numerical=torch.randn(12, 2)).shape == (2, 3)
    assert alignment_cost(clusters, categorical=torch.randint(1, 3, (12, 4))).shape == (4, 3)
    with pytest.raises(ValueError, match="at least one numerical or categorical"):
        alignment_cost(clusters, numerical=torch.zeros(12, 0))


def test_cluster_similarity_is_cosine_per_cluster():
    activations = torch.randn(9, 6)
    sims = cluster_similarities(activations, torch.tensor([0, 0, 0, 1, 1, 1]), 3)
    assert sims.shape == (3, 9, 9)
    assert torch.allclose(sims[0].diagonal(), torch.ones(9), atol=1e-5)
    assert sims[2].abs().sum() == 0  # no channels in cluster 2
    with pytest.raises(ValueError, match="one index per channel"):
        cluster_similarities(activations, torch.tensor([0, 1]), 2)


@pytest.mark.parametrize("method", ["emd", "partial", "sinkhorn"])
def test_transport_plans(method):
    cost = np.random.default_rng(0).random((5, 3))
    plan = transport_plan(cost, method=method, mass=0.6, reg=0.1)
    assert plan.shape == (5, 3) and (plan >= -1e-12).all()
    if method == "partial":
        assert plan.sum() == pytest.approx(0.6, abs=1e-6)
        assert (plan.sum(1) <= 0.2 + 1e-9).all()
    else:
        np.testing.assert_allclose(plan.sum(1), 0.2, atol=1e-3)
        np.testing.assert_allclose(plan.sum(0), 1 / 3, atol=1e-3)


def test_transport_plan_bad_arguments():
    with pytest.raises(ValueError, match="transport must be one of"):
        transport_plan(np.ones((2, 2)), method="greedy")
    with pytest.raises(ValueError, match="non-finite"):
        transport_plan(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="mass"):
        transport_plan(np.ones((2, 2)), method="partial", mass=1.5)


def test_expand_plan_leaves_unmatched_attributes_empty():
    weights = expand_plan(np.array([[0.2, 0.1], [0.0, 0.0]]), np.array([1, 0, 1]))
    assert weights.tolist() == [[0.5, 1.0, 0.5], [0.0, 0.0, 0.0]]


def _outputs(batch_size=6, n_num=2, cards=(3, 4), requires_grad=True):
    widest = max(cards)
    outputs = {"logits": torch.randn(batch_size, 2, requires_grad=requires_grad),
               "table_logits": torch.randn(batch_size, 2, requires_grad=requires_grad),
               "aux_numerical": torch.randn(batch_size, n_num, requires_grad=requires_grad),
               "aux_categorical": torch.randn(batch_size, len(cards), widest, requires_grad=requires_grad),
               "aux_active": torch.ones(n_num + len(cards))}
    return outputs


def _batch(batch_size=6):
    return {"label": torch.tensor([0, 1] * (batch_size // 2)), "numerical": torch.randn(batch_size, 2),
            "numerical_mask": torch.tensor([[1.0, 0.0]] * batch_size),
            "categorical": torch.tensor([[1, 0]] * batch_size),  # second column: unknown category
            "categorical_mask": torch.tensor([[1.0, 1.0]] * (batch_size - 1) + [[0.0, 1.0]])}


def test_loss_terms_and_weights():
    loss = CharmsLoss()
    terms = loss(_outputs(), _batch())
    assert sorted(terms) == ["aux", "image_task", "table_task"]
    assert loss.weights == {"image_task": 1.0, "table_task": 1.0, "aux": 0.5}
    assert all(torch.isfinite(v) for v in terms.values())


def test_aux_loss_ignores_missing_cells_and_unknown_categories():
    outputs, batch = _outputs(), _batch()
    CharmsLoss()(outputs, batch)["aux"].backward()
    numerical_grad = outputs["aux_numerical"].grad
    assert numerical_grad[:, 0].abs().sum() > 0 and numerical_grad[:, 1].abs().sum() == 0  # column 1 all missing
    categorical_grad = outputs["aux_categorical"].grad
    assert categorical_grad[:5, 0].abs().sum() > 0
    assert categorical_grad[5, 0].abs().sum() == 0  # missing cell
    assert categorical_grad[:, 1].abs().sum() == 0  # unknown category index 0


def test_aux_loss_skips_inactive_attributes():
    outputs, batch = _outputs(requires_grad=False), _batch()
    full = CharmsLoss()(outputs, batch)["aux"]
    outputs["aux_active"] = torch.tensor([0.0, 1.0, 1.0, 1.0])
    outputs["aux_numerical"] = outputs["aux_numerical"] + 100.0
    inactive = CharmsLoss()(outputs, batch)["aux"]
    assert inactive < full + 1.0  # the shifted numerical head is inactive, so its error does not count


def test_aux_loss_needs_the_auxiliary_outputs():
    outputs = _outputs()
    del outputs["aux_numerical"]
    with pytest.raises(KeyError, match="aux_numerical"):
        CharmsLoss()(outputs, _batch())


def test_distillation_term_targets_the_detached_table_model():
    loss = CharmsLoss(auxiliary=False, distill=True)
    outputs = _outputs()
    terms = loss(outputs, _batch())
    assert sorted(terms) == ["distill", "image_task", "table_task"]
    terms["distill"].backward()
    assert outputs["table_logits"].grad is None and outputs["logits"].grad.abs().sum() > 0
    same = {"logits": outputs["table_logits"].detach(), "table_logits": outputs["table_logits"].detach()}
    assert loss.distillation_loss(same["logits"], same["table_logits"]).abs() < 1e-6


def test_regression_distillation():
    loss = CharmsLoss(task="regression", auxiliary=False, distill=True)
    outputs = {"logits": torch.zeros(4, 1), "table_logits": torch.ones(4, 1)}
    terms = loss(outputs, {"label": torch.zeros(4)})
    assert terms["distill"].item() == pytest.approx(1.0)
