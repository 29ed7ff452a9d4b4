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
"""``SwinEncoder`` ("swin_t") in 2D and 3D: stage shapes, gradients, determinism, input checks, classifiers."""

from __future__ import annotations

import json

import pytest
import torch

from monai_tabular.networks import FusionClassifier, ImageClassifier, create_encoder, get_encoder_kind, list_encoders
from monai_tabular.networks.encoders.swin import SwinEncoder

torch.set_num_threads(1)

# 2D: Swin-T itself on 64x64 (patch 4: 16, 8, 4, 2); 3D: embed_dim 24 on 32^3 (patch 2: 16, 8, 4, 2)
CASES = {2: ((3, 64, 64), {}, [96, 192, 384, 768]), 3: ((1, 32, 32, 32), {"embed_dim": 24}, [24, 48, 96, 192])}
SIZES = [16, 8, 4, 2]


def _make(dims, seed=0, **kwargs):
    torch.manual_seed(seed)
    shape, args, _ = CASES[dims]
    return create_encoder("swin_t", spatial_dims=dims, in_channels=shape[0], **(args | kwargs))


def _image(dims, batch=2, seed=1):
    return torch.randn(batch, *CASES[dims][0], generator=torch.Generator().manual_seed(seed))


def test_registry_and_defaults():
    assert "swin_t" in list_encoders("image") and get_encoder_kind("swin_t") == "image"
    enc2 = SwinEncoder(spatial_dims=2, in_channels=3)
    assert enc2.window_size == (7, 7) and enc2.patch_size == (4, 4) and enc2.size_multiple == (32, 32)
    assert enc2.embed_dim == 96 and [len(layer[0].blocks) for layer in (enc2.layers1, enc2.layers2, enc2.layers3,
                                                                         enc2.layers4)] == [2, 2, 6, 2]
    assert enc2.layers3[0].blocks[0].num_heads == 12 and enc2.feature_dim == 768
    assert 27_000_000 < sum(p.numel() for p in enc2.parameters()) < 28_000_000  # Swin-T without its 1000-class head
    enc3 = SwinEncoder(spatial_dims=3, in_channels=1, embed_dim=12, depths=(1, 1, 1, 1))
    assert enc3.window_size == (4, 4, 4) and enc3.patch_size == (2, 2, 2) and enc3.size_multiple == (16, 16, 16)
    assert enc3.layers4[0].downsample is None and enc3.layers3[0].downsample is not None


@pytest.mark.parametrize("dims", [2, 3])
def test_shapes_gradients_determinism(dims):
    enc = _make(dims)
    x = _image(dims)
    assert isinstance(enc, SwinEncoder) and enc.stage_dims == CASES[dims][2]
    assert enc.feature_dim == enc.stage_dims[-1]
    with torch.no_grad():  # same seed -> same weights and outputs; repeated calls agree
        first = enc.eval()(x)
        torch.testing.assert_close(first, _make(dims).eval()(x), rtol=0, atol=0)
        torch.testing.assert_close(enc(x), first, rtol=0, atol=0)
    enc.train()
    features = enc.forward_features(x)
    assert len(features) == len(enc.stage_dims) == 4
    for f, channels, size in zip(features, enc.stage_dims, SIZES):
        assert tuple(f.shape) == (2, channels) + (size,) * dims
    out = enc(x)
    assert tuple(out.shape) == (2, enc.feature_dim) and bool(torch.isfinite(out).all())
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(2))).sum().backward()
    for name, p in enc.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


@pytest.mark.parametrize("dims", [2, 3])
def test_bad_input_raises_before_first_conv(dims):
    enc = _make(dims, embed_dim=12, depths=(1, 1, 1, 1))
    calls = []
    enc.patch_embed.proj.register_forward_pre_hook(lambda *a: calls.append(1))
    shape = CASES[dims][0]
    with pytest.raises(ValueError, match=rf"expects {shape[0]} input channel.*got {shape[0] + 1} channels"):
        enc(torch.zeros(2, shape[0] + 1, *shape[1:]))
    wrong_ndim = torch.zeros(2, *shape, 4)
    with pytest.raises(ValueError, match=rf"{dims}D image batch with {dims + 2} dims.*got {dims + 3} dims"):
        enc.forward_features(wrong_ndim)
    multiple = 32 if dims == 2 else 16
    bad = (shape[0], *shape[1:-1], shape[-1] + 8)
    padded = tuple(shape[1:-1]) + (shape[-1] + multiple,)
    with pytest.raises(ValueError, match=rf"multiple of \[{', '.join([str(multiple)] * dims)}\].*pad to "
                                         rf"\({', '.join(map(str, padded))}\)"):
        enc(torch.zeros(1, *bad))
    assert not calls
    with pytest.raises(TypeError, match="image tensor"):
        enc(torch.zeros(1, *shape).numpy())


def test_non_square_and_metatensor_input():
    from monai.data import MetaTensor

    enc = SwinEncoder(spatial_dims=2, in_channels=1, embed_dim=12, depths=(1, 1, 1, 1), window_size=[4, 2]).eval()
    x = torch.randn(1, 1, 64, 96)
    with torch.no_grad():
        features = enc.forward_features(x)
        assert [tuple(f.shape[2:]) for f in features] == [(16, 24), (8, 12), (4, 6), (2, 3)]
        out = enc(MetaTensor(x))
    assert type(out) is torch.Tensor
    torch.testing.assert_close(out, enc(x).detach())


def test_gradient_checkpointing_matches():
    plain = _make(3, depths=(2, 2, 2, 2))
    ckpt = _make(3, depths=(2, 2, 2, 2), use_checkpoint=True)
    ckpt.load_state_dict(plain.state_dict())
    assert all(block.use_checkpoint for block in ckpt.layers1[0].blocks)
    x = _image(3)
    outs = []
    for enc in (plain, ckpt):
        out = enc(x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs.append(out.detach())
    torch.testing.assert_close(outs[0], outs[1])
    grads = dict(plain.named_parameters())
    for name, p in ckpt.named_parameters():
        torch.testing.assert_close(p.grad, grads[name].grad, msg=f"gradient of {name} differs")


def test_constructor_validation():
    with pytest.raises(ValueError, match="spatial_dims"):
        SwinEncoder(spatial_dims=1, in_channels=1)
    with pytest.raises(ValueError, match="in_channels"):
        SwinEncoder(spatial_dims=2, in_channels=0)
    with pytest.raises(ValueError, match="4 positive ints"):
        SwinEncoder(spatial_dims=2, in_channels=1, depths=(2, 2, 2))
    with pytest.raises(ValueError, match=r"num_heads\[1\]=5 must divide stage 1's 192"):
        SwinEncoder(spatial_dims=2, in_channels=1, num_heads=(3, 5, 12, 24))
    with pytest.raises(ValueError, match="window_size"):
        SwinEncoder(spatial_dims=3, in_channels=1, window_size=[7, 7])
    with pytest.raises(ValueError, match="drop_path_rate"):
        SwinEncoder(spatial_dims=2, in_channels=1, drop_path_rate=1.0)


def test_in_classifiers_from_json_config():
    config = json.loads('{"image_encoder": "swin_t", "table_encoder": "mlp", "spatial_dims": 3, "in_channels": 1,'
                        ' "n_numerical": 2, "cardinalities": [3], "out_channels": 2, "hidden_dim": 16,'
                        ' "image_encoder_args": {"embed_dim": 12, "depths": [1, 1, 1, 1], "window_size": [4, 4, 4],'
                        ' "drop_path_rate": 0.1, "use_checkpoint": true}, "table_encoder_args": {"hidden_dims": [8]}}')
    torch.manual_seed(0)
    net = FusionClassifier(**config)
    batch = {"image": torch.randn(3, 1, 32, 32, 32), "numerical": torch.randn(3, 2),
             "numerical_mask": torch.ones(3, 2), "categorical": torch.ones(3, 1, dtype=torch.long),
             "categorical_mask": torch.ones(3, 1), "image_present": torch.tensor([1.0, 0, 1])}
    out = net(batch)
    assert tuple(out["logits"].shape) == (3, 2) and tuple(out["image_embedding"].shape) == (3, 96)
    out["logits"].sum().backward()
    assert net.image_encoder.patch_embed.proj.weight.grad.abs().sum() > 0
    image = ImageClassifier(encoder="swin_t", spatial_dims=2, in_channels=3, out_channels=4,
                            encoder_args={"embed_dim": 12, "depths": [1, 1, 1, 1]}).eval()
    with torch.no_grad():
        assert tuple(image({"image": torch.randn(2, 3, 32, 32)})["logits"].shape) == (2, 4)
