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
"""Every registered image encoder in 2D and 3D: shapes, gradients, determinism, input checks, checkpointing."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.networks import ResNetEncoder, create_encoder, list_encoders

# tiny inputs and their stage sizes (conv1 stride 2, max pool, then layer2..4 halve): 32 -> 8, 4, 2, 1; 16 -> 4, 2, 1, 1
INPUTS = {2: ((3, 32, 32), [8, 4, 2, 1]), 3: ((1, 16, 16, 16), [4, 2, 1, 1])}
WIDTH = 0.25  # stage widths 16, 32, 64, 128 (times 4 for bottleneck blocks)
KNOWN_DIMS = {"resnet10": [16, 32, 64, 128], "resnet18": [16, 32, 64, 128], "resnet34": [16, 32, 64, 128],
              "resnet50": [64, 128, 256, 512]}
CASES = [(name, dims) for name in list_encoders("image") if name.startswith("resnet") for dims in (2, 3)]


def _make(name, dims, seed=0, **kwargs):
    torch.manual_seed(seed)
    shape = INPUTS[dims][0]
    return create_encoder(name, spatial_dims=dims, in_channels=shape[0], width_factor=WIDTH, **kwargs)


def _image(dims, batch=2, seed=1):
    return torch.randn(batch, *INPUTS[dims][0], generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name,dims", CASES)
def test_shapes_gradients_determinism(name, dims):
    enc = _make(name, dims)
    x = _image(dims)
    with torch.no_grad():  # same seed -> same weights and outputs
        torch.testing.assert_close(enc.eval()(x), _make(name, dims).eval()(x), rtol=0, atol=0)
    enc.train()
    features = enc.forward_features(x)
    assert len(features) == len(enc.stage_dims) == 4 and enc.feature_dim == enc.stage_dims[-1]
    if name in KNOWN_DIMS:
        assert enc.stage_dims == KNOWN_DIMS[name]
    for f, channels, size in zip(features, enc.stage_dims, INPUTS[dims][1]):
        assert tuple(f.shape) == (2, channels) + (size,) * dims
    out = enc(x)
    assert tuple(out.shape) == (2, enc.feature_dim)
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(2))).sum().backward()
    for pname, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {pname}"


@pytest.mark.parametrize("name,dims", CASES)
def test_bad_input_raises_before_first_conv(name, dims):
    enc = _make(name, dims)
    calls = []
    enc.conv1.register_forward_pre_hook(lambda *a: calls.append(1))
    shape = INPUTS[dims][0]
    wrong_channels = torch.zeros(2, shape[0] + 1, *shape[1:])
    wrong_ndim = torch.zeros(2, shape[0], *shape[1:], 4) if dims == 2 else torch.zeros(2, shape[0], *shape[2:])
    with pytest.raises(ValueError, match=rf"expects {shape[0]} input channel.*got {shape[0] + 1} channels"):
        enc(wrong_channels)
    with pytest.raises(ValueError, match=rf"{dims}D image batch with {dims + 2} dims.*got {wrong_ndim.ndim} dims"):
        enc.forward_features(wrong_ndim)
    assert not calls


def test_constructor_validation_and_width():
    assert ResNetEncoder(spatial_dims=2, in_channels=1, depth=18, width_factor=0.5).stage_dims == [32, 64, 128, 256]
    with pytest.raises(ValueError, match="depth"):
        ResNetEncoder(spatial_dims=2, in_channels=1, depth=19)
    with pytest.raises(ValueError, match="width_factor"):
        ResNetEncoder(spatial_dims=2, in_channels=1, width_factor=0)
    with pytest.raises(ValueError, match="spatial_dims"):
        ResNetEncoder(spatial_dims=4, in_channels=1)


def test_conv1_arguments():
    enc = ResNetEncoder(spatial_dims=2, in_channels=1, depth=10, width_factor=WIDTH, conv1_t_stride=1,
                        conv1_t_size=3)
    assert enc.conv1.stride == (1, 1) and enc.conv1.kernel_size == (3, 3)
    assert enc.forward_features(torch.zeros(2, 1, 32, 32))[-1].shape[-1] == 2


@pytest.mark.parametrize("dims", [2, 3])
def test_gradient_checkpointing_same_outputs_gradients_and_stats(dims):
    plain = _make("resnet18", dims)
    ckpt = _make("resnet18", dims, gradient_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    runs = []
    ckpt.layer1[0].conv1.register_forward_hook(lambda *a: runs.append(1))
    x = _image(dims, batch=3)
    outs = []
    for enc in (plain, ckpt):
        out = enc(x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs.append(out.detach())
    assert len(runs) == 2  # checkpointing recomputed the stage in backward
    torch.testing.assert_close(outs[0], outs[1])
    grads = dict(plain.named_parameters())
    for pname, p in ckpt.named_parameters():
        torch.testing.assert_close(p.grad, grads[pname].grad, msg=f"gradient of {pname} differs")
    buffers = dict(plain.named_buffers())
    for bname, b in ckpt.named_buffers():  # BatchNorm running stats updated once, as without checkpointing
        torch.testing.assert_close(b, buffers[bname], msg=f"buffer {bname} differs")
    ckpt.eval()
    with torch.no_grad():
        runs.clear()
        ckpt(x)
        assert len(runs) == 1
