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
"""Classifiers on the batch dict: output shapes (2D/3D), modes, presence masks, modality dropout, config args."""

from __future__ import annotations

import json

import pytest
import torch

from monai_tabular.networks import FusionClassifier, ImageClassifier, TableClassifier

IMAGES = {2: (3, 32, 32), 3: (1, 16, 16, 16)}
CARDS = [3, 4]
TINY = {"width_factor": 0.25}


def _batch(dims=2, batch=4, seed=0, **extra):
    g = torch.Generator().manual_seed(seed)
    out = {"image": torch.randn(batch, *IMAGES[dims], generator=g), "numerical": torch.randn(batch, 2, generator=g),
           "numerical_mask": torch.ones(batch, 2), "categorical": torch.ones(batch, 2, dtype=torch.long),
           "categorical_mask": torch.ones(batch, 2), "label": torch.zeros(batch, dtype=torch.long)}
    return out | extra


def _fusion(dims=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    args = {"image_encoder": "resnet10", "spatial_dims": dims, "in_channels": IMAGES[dims][0], "n_numerical": 2,
            "cardinalities": CARDS, "out_channels": 3, "image_encoder_args": TINY,
            "table_encoder_args": {"hidden_dims": [8]}, "hidden_dim": 16} | kwargs
    return FusionClassifier(**args)


def _calls(module):
    calls = []
    module.register_forward_hook(lambda m, args, kwargs, out: calls.append(out.shape[0]), with_kwargs=True)
    return calls


@pytest.mark.parametrize("dims", [2, 3])
def test_image_and_table_classifiers(dims):
    net = ImageClassifier(encoder="resnet18", spatial_dims=dims, in_channels=IMAGES[dims][0], out_channels=2,
                          encoder_args=TINY, dropout=0.2)
    out = net(_batch(dims))
    assert tuple(out["logits"].shape) == (4, 2) and tuple(out["image_embedding"].shape) == (4, 128)
    assert tuple(net(_batch(dims)["image"])["logits"].shape) == (4, 2)
    table = TableClassifier(n_numerical=2, cardinalities=CARDS, out_channels=1)  # regression
    out = table({k: v for k, v in _batch(dims).items() if k != "image"})
    assert tuple(out["logits"].shape) == (4, 1) and tuple(out["table_embedding"].shape) == (4, 64)


def test_single_modality_modes():
    image = ImageClassifier(encoder="resnet10", spatial_dims=2, in_channels=3, out_channels=2, encoder_args=TINY,
                            mode="image_only")
    table = TableClassifier(n_numerical=2, cardinalities=CARDS, out_channels=2)
    table.mode = "table_only"
    for net, other in ((image, "table_only"), (table, "image_only")):
        with pytest.raises(ValueError, match=f"mode must be one of.*got '{other}'"):
            net.mode = other
        with pytest.raises(ValueError, match="mode must be one of"):
            net.mode = "tabular"
    with pytest.raises(ValueError, match="mode"):
        ImageClassifier(spatial_dims=2, in_channels=3, out_channels=2, encoder_args=TINY, mode="table_only")
    with pytest.raises(KeyError, match="no 'image'"):
        image({"numerical": torch.zeros(2, 2)})


@pytest.mark.parametrize("dims", [2, 3])
def test_fusion_modes_shapes_and_skipped_encoders(dims):
    net = _fusion(dims).eval()
    image_calls, table_calls = _calls(net.image_encoder), _calls(net.table_encoder)
    batch = _batch(dims)
    for mode in ("both", "image_only", "table_only"):
        net.mode = mode
        out = net(batch)
        assert tuple(out["logits"].shape) == (4, 3)
        assert tuple(out["image_embedding"].shape) == (4, 128) and tuple(out["table_embedding"].shape) == (4, 8)
    assert image_calls == [4, 4] and table_calls == [4, 4]  # image_only skipped the table encoder, and vice versa
    net.mode = "image_only"  # no table in the batch at all
    out = net({"image": batch["image"]})
    torch.testing.assert_close(out["table_embedding"], net.missing_table.expand(4, -1))
    assert out["table_present"].tolist() == [0.0] * 4 and out["image_present"].tolist() == [1.0] * 4
    net.mode = "table_only"
    out = net({k: v for k, v in batch.items() if k != "image"})
    torch.testing.assert_close(out["image_embedding"], net.missing_image.expand(4, -1))
    assert image_calls == [4, 4, 4] and table_calls == [4, 4, 4]
    with pytest.raises(ValueError, match="mode must be one of"):
        net.mode = "none"


def test_per_sample_presence():
    net = _fusion().eval()
    image_calls, table_calls = _calls(net.image_encoder), _calls(net.table_encoder)
    batch = _batch(image_present=torch.tensor([1.0, 1, 0, 1]), table_present=torch.tensor([1.0, 0, 1, 0]))
    with torch.no_grad():
        out = net(batch)
        assert image_calls == [3] and table_calls == [2]  # encoders ran on the present samples only
        torch.testing.assert_close(out["table_embedding"][[1, 3]], net.missing_table.expand(2, -1))
        torch.testing.assert_close(out["image_embedding"][[2]], net.missing_image.expand(1, -1))
        full = net(_batch())
        torch.testing.assert_close(out["image_embedding"][:2], full["image_embedding"][:2])
        # what an absent modality holds does not matter; a present one does
        changed = dict(batch, image=batch["image"].clone(), numerical=batch["numerical"] + 5)
        changed["image"][2] = 0
        again = net(changed)
        torch.testing.assert_close(again["logits"][[1, 3]], out["logits"][[1, 3]])
        assert not torch.allclose(again["logits"][[0, 2]], out["logits"][[0, 2]])
    net.train()
    net(batch)["logits"].sum().backward()  # the missing embeddings are learned
    assert net.missing_image.grad.abs().sum() > 0 and net.missing_table.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="one flag per sample"):
        net(_batch(image_present=torch.ones(3)))


def test_metatensor_image_from_monai_pipeline():
    from monai.data import MetaTensor

    net = _fusion().eval()
    batch = _batch(image_present=torch.tensor([1.0, 0, 1, 1]))
    with torch.no_grad():
        expected = net(batch)["logits"]
        out = net(dict(batch, image=MetaTensor(batch["image"])))["logits"]
    assert type(out) is torch.Tensor
    torch.testing.assert_close(out, expected)


def test_modality_dropout_only_in_training():
    torch.manual_seed(0)
    net = _fusion(modality_dropout=0.9, image_encoder_args=TINY | {"conv1_t_stride": 1})
    batch = _batch(batch=8, image_present=torch.tensor([1.0, 1, 1, 1, 1, 1, 0, 1]))
    net.eval()
    with torch.no_grad():
        first, second = net(batch), net(batch)
    torch.testing.assert_close(first["logits"], second["logits"])
    assert first["image_present"].tolist() == batch["image_present"].tolist()
    assert first["table_present"].tolist() == [1.0] * 8
    net.train()
    dropped = 0
    for _ in range(3):
        out = net(batch)
        image, table = out["image_present"], out["table_present"]
        assert bool(((image + table) >= 1).all())  # never both
        assert table[6] == 1  # the sample without an image keeps its table
        dropped += int((image == 0).sum() + (table == 0).sum()) - 1
    assert dropped > 0
    net.mode = "image_only"  # a single mode drops nothing
    assert net(_batch(batch=8))["image_present"].tolist() == [1.0] * 8
    with pytest.raises(ValueError, match="neither the image nor the table"):  # sample 6 has no image
        net(batch)
    with pytest.raises(ValueError, match="modality_dropout"):
        _fusion(modality_dropout=1.0)
    with pytest.raises(ValueError, match="modality_dropout"):
        _fusion(modality_dropout={"image": 0.6, "table": 0.5})


def test_per_modality_dropout_rates_drop_only_that_modality():
    torch.manual_seed(0)
    net = _fusion(modality_dropout={"image": 0.8}, image_encoder_args=TINY | {"conv1_t_stride": 1}).train()
    out = net(_batch(batch=8))
    assert out["table_present"].tolist() == [1.0] * 8 and out["image_present"].sum() < 8


def test_subject_with_neither_modality_is_refused_with_its_id():
    net = _fusion().eval()
    batch = dict(_batch(image_present=torch.tensor([1.0, 0, 1, 1]), table_present=torch.tensor([1.0, 0, 1, 1])),
                 subject_id=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match=r"\['b'\]"):
        net(batch)


@pytest.mark.parametrize("fusion", ["concat", "late_average", "gated_attention", "daft", "cross_attention"])
@pytest.mark.parametrize("dims", [2, 3])
def test_fusion_chosen_by_name_trains_with_missing_modalities(fusion, dims):
    torch.manual_seed(0)
    args = {"d_model": 16, "num_heads": 2} if fusion == "cross_attention" else None
    net = FusionClassifier(image_encoder="resnet10", spatial_dims=dims, in_channels=1, n_numerical=2,
                           cardinalities=[3], out_channels=2, fusion=fusion, fusion_args=args, hidden_dim=16,
                           image_encoder_args=TINY)
    batch = {"image": torch.randn(4, 1, *([16] * dims)), "numerical": torch.randn(4, 2),
             "categorical": torch.ones(4, 1, dtype=torch.long),
             "image_present": torch.tensor([1.0, 0, 1, 1]), "table_present": torch.tensor([1.0, 1, 0, 1])}
    out = net(batch)
    out["logits"].sum().backward()
    assert out["logits"].shape == (4, 2) and torch.isfinite(out["logits"]).all()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.image_encoder.parameters())
    net.eval()
    with torch.no_grad():  # the absent image of sample 1 does not matter
        changed = dict(batch, image=batch["image"].clone())
        changed["image"][1] = 1e3
        torch.testing.assert_close(net(changed)["logits"], net(batch)["logits"])


def test_unknown_fusion_lists_the_registered_names():
    with pytest.raises(ValueError, match="known fusions: .*daft"):
        _fusion(fusion="nope")


def test_config_from_json_and_argument_errors():
    config = json.loads('{"image_encoder": "resnet18", "table_encoder": "mlp", "spatial_dims": 3, "in_channels": 1,'
                        ' "n_numerical": 2, "cardinalities": [3, 4], "out_channels": 2, "dropout": 0.1,'
                        ' "image_encoder_args": {"width_factor": 0.25, "gradient_checkpointing": true},'
                        ' "table_encoder_args": {"hidden_dims": [16, 8], "embedding_dim": 4}, "mode": "both"}')
    net = FusionClassifier(**config)
    assert net.image_encoder.gradient_checkpointing and net.table_encoder.feature_dim == 8
    with pytest.raises(ValueError, match="needs a image encoder, but 'mlp' is a table encoder"):
        FusionClassifier(**config | {"image_encoder": "mlp"})
    with pytest.raises(KeyError, match="known encoders"):
        TableClassifier(encoder="transformer", n_numerical=2, cardinalities=CARDS, out_channels=2)
    with pytest.raises(ValueError, match="not inside the encoder arguments"):
        ImageClassifier(spatial_dims=2, in_channels=1, out_channels=2, encoder_args={"in_channels": 3})
    with pytest.raises(ValueError, match="out_channels"):
        TableClassifier(n_numerical=2, cardinalities=CARDS, out_channels=0)


def test_classifier_gradient_checkpointing_matches():
    nets = []
    for flag in (False, True):
        torch.manual_seed(0)
        nets.append(ImageClassifier(encoder="resnet10", spatial_dims=3, in_channels=1, out_channels=2,
                                    encoder_args=TINY | {"gradient_checkpointing": flag}))
    batch = _batch(3)
    logits = []
    for net in nets:
        out = net(batch)["logits"]
        out.sum().backward()
        logits.append(out.detach())
    torch.testing.assert_close(logits[0], logits[1])
    for (name, a), (_, b) in zip(nets[0].named_parameters(), nets[1].named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
