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
"""The chunked selective scan against the sequential reference: values, gradients, stability, dispatch."""

from __future__ import annotations

import importlib

import pytest
import torch

from monai_tabular.networks.blocks.selective_scan import selective_scan, selective_scan_ref

# the module itself (a package __init__ exporting the function ``selective_scan`` would shadow the attribute)
ss = importlib.import_module("monai_tabular.networks.blocks.selective_scan")

torch.set_num_threads(1)

# sequence lengths: odd lengths, and 2D / 3D feature maps flattened (7x9, 13x11, 5x7x9, 9x9x13)
LENGTHS = [1, 7, 33, 257, 1001, 7 * 9, 13 * 11, 5 * 7 * 9, 9 * 9 * 13]


def _inputs(length, dtype=torch.float64, batch=2, dim=5, state=3, extras=True, seed=0):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    u = r(batch, dim, length)
    # without softplus the step sizes must be >= 0 for a decaying state
    delta = r(batch, dim, length) if extras else torch.rand(batch, dim, length, generator=g, dtype=dtype)
    A = -torch.exp(r(dim, state))
    B, C = r(batch, state, length), r(batch, state, length)
    D, z, bias = (r(dim), r(batch, dim, length), r(dim)) if extras else (None, None, None)
    return {"u": u, "delta": delta, "A": A, "B": B, "C": C, "D": D, "z": z, "delta_bias": bias,
            "delta_softplus": extras}


def _run(fn, inputs, **kwargs):
    """Outputs (y, last state) and the gradients of a random projection of both w.r.t. every tensor input."""
    leaves = {k: v.detach().clone().requires_grad_() for k, v in inputs.items() if isinstance(v, torch.Tensor)}
    y, last = fn(**{**inputs, **leaves}, return_last_state=True, **kwargs)
    g = torch.Generator().manual_seed(1)
    loss = (y * torch.randn(y.shape, generator=g, dtype=torch.float64).to(y.dtype)).sum() + \
        (last * torch.randn(last.shape, generator=g, dtype=torch.float64).to(last.dtype)).sum()
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return y.detach(), last.detach(), dict(zip(leaves, grads))


def _assert_same(a, b, atol, rtol):
    torch.testing.assert_close(a[0], b[0], atol=atol, rtol=rtol)
    torch.testing.assert_close(a[1], b[1], atol=atol, rtol=rtol)
    for k in a[2]:
        torch.testing.assert_close(a[2][k], b[2][k], atol=atol, rtol=rtol, msg=f"gradient of {k} differs")


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("extras", [False, True], ids=["plain", "D_z_bias_softplus"])
def test_matches_reference_float64(length, extras):
    inputs = _inputs(length, extras=extras)
    ref = _run(selective_scan_ref, inputs)
    for chunk in (None, 4):
        _assert_same(_run(selective_scan, inputs, chunk_size=chunk), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("length", [33, 1001])
def test_float32_close_to_float64_reference(length):
    inputs = _inputs(length, dim=8, state=16)
    ref = _run(selective_scan_ref, inputs)
    got = _run(selective_scan, {k: v.float() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()})
    assert got[0].dtype == torch.float32
    _assert_same(tuple([got[0].double(), got[1].double(), {k: v.double() for k, v in got[2].items()}]), ref,
                 atol=1e-4, rtol=1e-4)


def test_chunk_sizes_and_strided_inputs_agree():
    inputs = _inputs(100)
    ref = selective_scan_ref(**inputs)
    for chunk in (1, 3, 10, 99, 100, 500):
        torch.testing.assert_close(selective_scan(**inputs, chunk_size=chunk), ref, atol=1e-10, rtol=1e-10)
    # (batch, L, k) memory read as (batch, k, L), as inside MambaBlock
    strided = {k: v.transpose(1, 2).contiguous().transpose(1, 2) if isinstance(v, torch.Tensor) and v.ndim == 3
               else v for k, v in inputs.items()}
    assert not strided["u"].is_contiguous()
    torch.testing.assert_close(selective_scan(**strided), ref, atol=1e-10, rtol=1e-10)


def test_inputs_are_not_modified():
    inputs = _inputs(12)
    # (batch, L, k) storage, one chunk: the internal arrangement is a view-compatible copy that must not alias
    inputs = {k: v.transpose(1, 2).contiguous().transpose(1, 2) if isinstance(v, torch.Tensor) and v.ndim == 3
              else v for k, v in inputs.items()}
    saved = {k: v.clone() for k, v in inputs.items() if isinstance(v, torch.Tensor)}
    for batch in (2, 1):
        sub = {k: v[:batch] if isinstance(v, torch.Tensor) and v.ndim == 3 else v for k, v in inputs.items()}
        _run(selective_scan, sub, chunk_size=12)
    for k, v in saved.items():
        assert torch.equal(inputs[k], v), f"{k} was modified"


def test_long_sequence_with_underflowing_decays_is_stable():
    """Decays exp(delta * A) far below float32's range (and products over 4000 steps) give finite, exact results."""
    inputs = _inputs(4001, dim=4, state=4, extras=False)
    inputs["delta"] = inputs["delta"] * 40.0  # steps up to 40
    inputs["A"] = inputs["A"] * 10.0  # delta * A down to about -1e4: exp underflows even in float64
    y = selective_scan(**{k: v.float() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()})
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.double(), selective_scan_ref(**inputs), atol=1e-4, rtol=1e-4)


def test_half_precision_inputs_compute_in_float32():
    inputs = {k: v.to(torch.bfloat16) if isinstance(v, torch.Tensor) else v for k, v in _inputs(20).items()}
    y = selective_scan(**inputs)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, selective_scan_ref(**inputs), atol=2e-2, rtol=2e-2)


def test_empty_sequence_and_shape_errors():
    inputs = _inputs(0)
    y, last = selective_scan(**inputs, return_last_state=True)
    assert y.shape == (2, 5, 0) and last.shape == (2, 5, 3) and not last.any()
    inputs = _inputs(6)
    with pytest.raises(ValueError, match="A must be"):
        selective_scan(**{**inputs, "A": inputs["A"][:, None]})
    with pytest.raises(ValueError, match="B must be"):
        selective_scan(**{**inputs, "B": inputs["B"][:, :, :5]})
    with pytest.raises(ValueError, match="D must be"):
        selective_scan(**{**inputs, "D": inputs["D"][:2]})
    with pytest.raises(ValueError, match="chunk_size"):
        selective_scan(**inputs, chunk_size=0)


class _Spy:
    def __init__(self):
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return selective_scan_ref(*args)


def test_dispatch_falls_back_to_pytorch_on_cpu(monkeypatch):
    spy = _Spy()
    monkeypatch.setattr(ss, "_HAS_MAMBA_SSM", True)  # pretend mamba_ssm is installed
    monkeypatch.setattr(ss, "_mamba_scan_fn", spy)
    inputs = _inputs(9)
    torch.testing.assert_close(selective_scan(**inputs), selective_scan_ref(**inputs))
    assert spy.calls == 0  # CPU tensors: pure PyTorch
    with pytest.raises(RuntimeError, match="needs the mamba_ssm package and CUDA"):
        selective_scan(**inputs, backend="mamba_ssm")
    with pytest.raises(ValueError, match="backend"):
        selective_scan(**inputs, backend="triton")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_dispatch_on_cuda(monkeypatch):
    inputs = {k: v.float().cuda() if isinstance(v, torch.Tensor) else v for k, v in _inputs(65).items()}
    expected = selective_scan_ref(**inputs)
    torch.testing.assert_close(selective_scan(**inputs, backend="torch"), expected, atol=1e-4, rtol=1e-4)
    spy = _Spy()
    monkeypatch.setattr(ss, "_HAS_MAMBA_SSM", True)
    monkeypatch.setattr(ss, "_mamba_scan_fn", spy)
    selective_scan(**inputs)
    assert spy.calls == 1
