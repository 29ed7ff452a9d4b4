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
"""CharmsNet: image-only at evaluation, table model and alignment-weighted auxiliary heads in training."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.losses.charms import CharmsLoss
from monai_tabular.networks.charms import CharmsNet


def _net(n_numerical=2, cardinalities=(3, 4), spatial_dims=2, **extra):
    return CharmsNet(spatial_dims=spatial_dims, in_channels=1, n_numerical=n_numerical,
                     cardinalities=list(cardinalities), out_channels=2, image_encoder="resnet10",
                     image_encoder_args={"width_factor": 0.125}, **extra)


def _batch(n_numerical=2, cardinalities=(3, 4), size=4, spatial_dims=2):
    return {"image": torch.randn(size, 1, *([16] * spatial_dims)),
            "numerical": torch.randn(size, n_numerical), "numerical_mask": torch.ones(size, n_numerical),
            "categorical": torch.stack([torch.randint(1, c, (size,)) for c in cardinalities], 1)
            if cardinalities else torch.zeros(size, 0, dtype=torch.long),
            "categorical_mask": torch.ones(size, len(cardinalities)), "label": torch.tensor([0, 1] * (size // 2))}


def test_evaluation_is_the_plain_image_classifier_and_needs_no_table():
    torch.manual_seed(0)
    net = _net().eval()
    image = torch.randn(3, 1, 16, 16)
    outputs = net({"image": image})
    assert set(outputs) == {"logits", "image_embedding"}
    torch.testing.assert_close(outputs["logits"], net.image_model({"image": image})["logits"])
    restored = type(net.image_model)(encoder="resnet10", spatial_dims=2, in_channels=1, out_channels=2,
                                     encoder_args={"width_factor": 0.125})
    restored.load_state_dict(net.image_model.state_dict())
    torch.testing.assert_close(restored.eval()({"image": image})["logits"], outputs["logits"])


def test_training_outputs():
    net = _net().train()
    outputs = net(_batch())
    assert outputs["table_logits"].shape == (4, 2)
    assert outputs["aux_numerical"].shape == (4, 2)
    assert outputs["aux_categorical"].shape == (4, 2, 4)
    assert outputs["aux_categorical"][:, 0, 3].max() < -1e3  # class 3 does not exist for a cardinality-3 column
    assert net.alignment.shape == (4, net.channels)


@pytest.mark.parametrize("n_numerical, cardinalities", [(3, ()), (0, (3, 5))])
def test_only_numerical_or_only_categorical_tables(n_numerical, cardinalities):
    net = _net(n_numerical, cardinalities).train()
    batch = _batch(n_numerical, cardinalities)
    terms = CharmsLoss()(net(batch), batch)
    sum(terms.values()).backward()
    assert torch.isfinite(terms["aux"]) and terms["aux"] > 0


def test_auxiliary_heads_read_only_the_aligned_channels():
    net = _net().train()
    weights = torch.zeros(4, net.channels)
    weights[:, :5] = 1.0
    net.set_alignment(weights, [True] * 4)
    batch = _batch()
    CharmsLoss()(net(batch), batch)["aux"].backward()
    assert net.numerical_weight.grad[:, :5].abs().sum() > 0
    assert net.numerical_weight.grad[:, 5:].abs().sum() == 0
    assert net.categorical_weight.grad[:, :, 5:].abs().sum() == 0


def test_alignment_is_saved_with_the_network():
    net = _net()
    weights = torch.rand(4, net.channels)
    net.set_alignment(weights, [True, False, True, True])
    other = _net()
    other.load_state_dict(net.state_dict())
    torch.testing.assert_close(other.alignment, weights)
    assert other.attribute_active.tolist() == [1.0, 0.0, 1.0, 1.0]


def test_set_alignment_checks_shapes():
    net = _net()
    with pytest.raises(ValueError, match="attributes, channels"):
        net.set_alignment(torch.zeros(3, net.channels), [True] * 3)


def test_distillation_variant_has_no_auxiliary_heads():
    net = _net(auxiliary=False).train()
    outputs = net(_batch())
    assert "aux_numerical" not in outputs and "table_logits" in outputs
    assert not hasattr(net, "numerical_weight")


def test_three_dimensional_images():
    net = _net(spatial_dims=3).train()
    outputs = net(_batch(spatial_dims=3))
    assert outputs["logits"].shape == (4, 2)


def test_modes():
    net = _net()
    net.mode = "image_only"
    with pytest.raises(ValueError, match="table_only"):
        net.mode = "table_only"
