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
"""MambaBlock (causality, directions) and the nnMamba image encoder: shapes, gradients, checks, registry."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.networks import create_encoder, get_encoder_kind
from monai_tabular.networks.blocks.mamba import MambaBlock
from monai_tabular.networks.encoders.nnmamba import NNMambaEncoder, VoxelMamba

torch.set_num_threads(1)

# input (C, *spatial) -> stage sizes with the default stem (output strides 4, 8, 16, 32)
INPUTS = {2: ((1, 32, 32), [8, 4, 2, 1]), 3: ((1, 16, 16, 16), [4, 2, 1, 1])}


def _image(shape, batch=2, seed=1):
    return torch.randn(batch, *shape, generator=torch.Generator().manual_seed(seed))


def _make(dims, seed=0, **kwargs):
    torch.manual_seed(seed)
    return NNMambaEncoder(spatial_dims=dims, in_channels=INPUTS[dims][0][0], **kwargs)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_mamba_block_shapes_and_causality(bidirectional):
    torch.manual_seed(0)
    block = MambaBlock(d_model=8, d_state=4, bidirectional=bidirectional)
    assert len(block.directions) == (2 if bidirectional else 1) and block.dt_rank == 1 and block.d_inner == 16
    x = torch.randn(2, 21, 8)
    y = block(x)
    assert y.shape == x.shape
    x2 = x.clone()
    x2[:, 15:] += 1.0  # change the future
    changed = (block(x2) - y).abs().amax((0, 2)) > 1e-6
    assert bool(changed[:15].any()) == bidirectional  # a forward scan does not see the future; a backward one does
    assert changed[15:].all()
    with pytest.raises(ValueError, match="expects"):
        block(torch.randn(2, 21, 7))


@pytest.mark.parametrize("dims", [2, 3])
def test_encoder_shapes_and_determinism(dims):
    shape, sizes = INPUTS[dims]
    enc = _make(dims)
    assert enc.stage_dims == [16, 32, 64, 128] and enc.feature_dim == 128
    x = _image(shape)
    with torch.no_grad():
        features = enc.eval().forward_features(x)
        assert [tuple(f.shape) for f in features] == [(2, c) + (s,) * dims for c, s in zip(enc.stage_dims, sizes)]
        out = enc(x)
        assert out.shape == (2, enc.feature_dim)
        torch.testing.assert_close(out, _make(dims).eval()(x), rtol=0, atol=0)  # same seed, same network
        assert not torch.equal(out, _make(dims, seed=1).eval()(x))


@pytest.mark.parametrize("dims,shape,kwargs", [
    (2, (1, 64, 64), {"permuted_scan": True}),  # every stage keeps > 1 voxel, so every A_log matters
    (3, (1, 32, 32, 32), {"stem_stride": 1, "base_channels": 8}),
])
def test_gradients_reach_every_parameter(dims, shape, kwargs):
    enc = NNMambaEncoder(spatial_dims=dims, in_channels=1, **kwargs)
    out = enc(_image(shape))
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(2))).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_mamba_stages_are_configurable():
    def mamba_stages(enc):
        return sorted({int(n.split(".")[1]) for n, m in enc.named_modules() if isinstance(m, VoxelMamba)})

    assert mamba_stages(NNMambaEncoder(spatial_dims=2, in_channels=1)) == [1, 2, 3]
    assert mamba_stages(NNMambaEncoder(spatial_dims=2, in_channels=1, mamba_stages=[0, 3])) == [0, 3]
    assert mamba_stages(NNMambaEncoder(spatial_dims=2, in_channels=1, mamba_stages=[])) == []
    enc = NNMambaEncoder(spatial_dims=2, in_channels=1, width_factor=0.5, depths=(1, 1, 1, 1), bidirectional=False)
    assert enc.stage_dims == [8, 16, 32, 64]
    assert all(len(m.mamba.directions) == 1 for m in enc.modules() if isinstance(m, VoxelMamba))


@pytest.mark.parametrize("dims", [2, 3])
def test_bad_input_raises_before_first_conv(dims):
    enc = _make(dims)
    calls = []
    enc.conv1.register_forward_pre_hook(lambda *a: calls.append(1))
    shape = INPUTS[dims][0]
    wrong_channels = torch.zeros(2, shape[0] + 1, *shape[1:])
    wrong_ndim = torch.zeros(2, shape[0], *shape[1:], 4) if dims == 2 else torch.zeros(2, shape[0], *shape[2:])
    with pytest.raises(ValueError, match=rf"expects {shape[0]} input channel.*got {shape[0] + 1} channels"):
        enc(wrong_channels)
    with pytest.raises(ValueError, match=rf"{dims}D image batch with {dims + 2} dims.*got {wrong_ndim.ndim} dims"):
        enc.forward_features(wrong_ndim)
    with pytest.raises(TypeError, match="image tensor"):
        enc(shape)
    assert not calls


def test_constructor_validation():
    for kwargs, match in [({"spatial_dims": 4}, "spatial_dims"), ({"mamba_stages": [4]}, "mamba_stages"),
                          ({"depths": [1, 1, 1]}, "depths"), ({"width_factor": 0}, "width_factor"),
                          ({"stem_stride": 0}, "stem_stride"), ({"in_channels": 0}, "in_channels")]:
        with pytest.raises(ValueError, match=match):
            NNMambaEncoder(**{"spatial_dims": 2, "in_channels": 1, **kwargs})


def test_registry_lookup():
    assert get_encoder_kind("nnmamba") == "image"
    enc = create_encoder("nnmamba", spatial_dims=3, in_channels=1)
    assert isinstance(enc, NNMambaEncoder) and enc.spatial_dims == 3 and enc.mamba_stages == [1, 2, 3]
    assert create_encoder("nnMamba", spatial_dims=2, in_channels=3, width_factor=0.25).feature_dim == 32


def test_gradient_checkpointing_same_outputs_and_gradients():
    plain = _make(2, base_channels=8)
    ckpt = _make(2, base_channels=8, gradient_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    x = _image((1, 64, 64), batch=3)
    outs = []
    for enc in (plain, ckpt):
        out = enc(x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs.append(out.detach())
    torch.testing.assert_close(outs[0], outs[1])
    grads = dict(plain.named_parameters())
    for name, p in ckpt.named_parameters():
        torch.testing.assert_close(p.grad, grads[name].grad, msg=f"gradient of {name} differs")
    buffers = dict(plain.named_buffers())
    for name, b in ckpt.named_buffers():  # BatchNorm statistics updated once
        torch.testing.assert_close(b, buffers[name], msg=f"buffer {name} differs")
