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
"""GAALNetwork: encoders by name, one shared classifier, the three inference modes, missing modalities, views."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.networks.gaal import GAALNetwork, table_views_by_prefix


def _net(**kwargs) -> GAALNetwork:
    torch.manual_seed(0)
    args = dict(spatial_dims=2, in_channels=1, n_numerical=3, cardinalities=[3, 4], out_channels=3,
                image_encoder="resnet10", image_encoder_args={"width_factor": 0.125},
                table_encoder_args={"hidden_dims": [16], "dropout": 0.0}, embed_dim=8)
    return GAALNetwork(**{**args, **kwargs}).eval()


def _batch(size: int = 4) -> dict:
    generator = torch.Generator().manual_seed(1)
    return {"image": torch.randn(size, 1, 16, 16, generator=generator),
            "numerical": torch.randn(size, 3, generator=generator), "numerical_mask": torch.ones(size, 3),
            "categorical": torch.ones(size, 2, dtype=torch.long), "categorical_mask": torch.ones(size, 2)}


def test_one_shared_classifier_and_encoders_by_name():
    net = _net(table_encoder="ft_transformer", table_encoder_args={"d_token": 8, "n_blocks": 1, "n_heads": 2})
    assert net.modalities == ["image", "table"]
    assert type(net.encoders["table"]).__name__ != "TableMLP"
    assert isinstance(net.classifier, torch.nn.Linear) and net.classifier.in_features == 8
    heads = [m for m in net.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 3]
    assert heads == [net.classifier]  # psi is the only layer producing class logits


def test_both_is_the_average_of_the_unimodal_logits():
    net, batch = _net(), _batch()
    with torch.no_grad():
        out = net(batch)
        image = net.classify(net.encode(batch, "image"))
        table = net.classify(net.encode(batch, "table"))
    torch.testing.assert_close(out["logits_image"], image)
    torch.testing.assert_close(out["logits"], (image + table) / 2)


@pytest.mark.parametrize("mode, used", [("image_only", "image"), ("table_only", "table")])
def test_single_modality_modes(mode, used):
    net, batch = _net(), _batch()
    with torch.no_grad():
        expected = net.classify(net.encode(batch, used))
        net.mode = mode
        out = net(batch)
    torch.testing.assert_close(out["logits"], expected)
    other = "table" if used == "image" else "image"
    assert out[f"{other}_present"].sum() == 0 and not out[f"logits_{other}"].any()


def test_image_only_mode_runs_without_a_table():
    net = _net(mode="image_only")
    batch = {"image": _batch()["image"]}
    with torch.no_grad():
        assert net(batch)["logits"].shape == (4, 3)


def test_a_subject_missing_a_modality_is_predicted_from_the_other():
    net, batch = _net(), _batch()
    batch["table_present"] = torch.tensor([1.0, 0.0, 1.0, 1.0])
    batch["image_present"] = torch.tensor([1.0, 1.0, 0.0, 1.0])
    batch["numerical_mask"][3] = 0
    batch["categorical_mask"][3] = 0  # nothing observed: the table counts as missing
    with torch.no_grad():
        out = net(batch)
    assert out["table_present"].tolist() == [1.0, 0.0, 1.0, 0.0]
    torch.testing.assert_close(out["logits"][1], out["logits_image"][1])
    torch.testing.assert_close(out["logits"][2], out["logits_table"][2])
    torch.testing.assert_close(out["logits"][3], out["logits_image"][3])
    torch.testing.assert_close(out["logits"][0], (out["logits_image"][0] + out["logits_table"][0]) / 2)


def test_a_subject_with_nothing_to_predict_from_is_named():
    net, batch = _net(mode="image_only"), _batch()
    batch["image_present"] = torch.tensor([1, 1, 0, 1])
    with pytest.raises(ValueError, match=r"samples \[2\].*image_only"):
        net(batch)


def test_table_views_split_the_columns():
    views = table_views_by_prefix(numerical=["fou_0", "fou_1", "kar_0"], categorical=["kar_c"],
                                  prefixes=["fou", "kar"])
    net = _net(table_views=views)
    assert net.modalities == ["image", "fou", "kar"]
    batch = _batch()
    with torch.no_grad():
        before = net(batch)
        batch["numerical"][:, 2] += 5.0  # a kar column: the fou branch does not see it
        after = net(batch)
    torch.testing.assert_close(before["logits_fou"], after["logits_fou"])
    assert not torch.allclose(before["logits_kar"], after["logits_kar"])
    torch.testing.assert_close(after["logits"], (after["logits_image"] + after["logits_fou"]
                                                 + after["logits_kar"]) / 3)
    net.mode = "table_only"
    with torch.no_grad():
        out = net(batch)
    torch.testing.assert_close(out["logits"], (out["logits_fou"] + out["logits_kar"]) / 2)
    assert out["table_present"].tolist() == [1.0] * 4


def test_table_view_errors():
    with pytest.raises(ValueError, match="'zer' matches no column"):
        table_views_by_prefix(numerical=["fou_0"], prefixes=["fou", "zer"])
    with pytest.raises(ValueError, match=r"\['mor_0'\] belong to none"):
        table_views_by_prefix(numerical=["fou_0", "mor_0"], prefixes=["fou"])
    with pytest.raises(ValueError, match="outside 0..2"):
        _net(table_views={"a": {"numerical": [0, 5]}})


def test_regression_is_refused():
    with pytest.raises(ValueError, match="classification"):
        _net(out_channels=1)
