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
"""The Mamba (S6) selective scan in pure PyTorch: a sequential reference and a chunked parallel scan.

For every batch element, channel ``d`` and state ``n``::

    h_t = exp(delta_t * A[d, n]) * h_{t-1} + delta_t * B_t[n] * u_t        (h_0 = 0)
    y_t = sum_n C_t[n] * h_t[n]  (+ D[d] * u_t)  (* silu(z_t))

with ``delta`` optionally shifted by ``delta_bias`` and passed through softplus. Shapes follow Mamba:
u, delta, z (B, D, L); A (D, N); B, C (B, N, L); D, delta_bias (D,).

:func:`selective_scan` splits the sequence into ``L / T`` chunks of ``T`` steps and runs three passes, each a
short Python loop over large tensors: (1) all chunks in parallel, the state each chunk reaches from zero;
(2) a loop over the chunks carrying the true state into each chunk (chunk decay = ``exp(A * sum(delta))``);
(3) all chunks in parallel again from their carried-in states, emitting ``y``. Only decays (products of
factors in [0, 1]) are ever multiplied, never divided, so long sequences whose decays underflow stay exact.
D, z, the bias and the softplus are applied inside, in the same chunked layout, and the backward pass is
written out (a reverse scan with the same chunking), so autograd records one node. On CUDA tensors, when
``mamba_ssm`` is installed, :func:`selective_scan` calls its fused kernel instead.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from monai.utils import optional_import

__all__ = ["selective_scan", "selective_scan_ref", "mamba_ssm_available", "default_chunk_size"]

_scan_fn, _HAS_MAMBA_SSM = optional_import("mamba_ssm.ops.selective_scan_interface", name="selective_scan_fn")
_mamba_scan_fn = _scan_fn if _HAS_MAMBA_SSM else None  # keep no lazy-raising placeholder in the module namespace
del _scan_fn
_LOG2E = 1.0 / math.log(2.0)
_BACKENDS = ("auto", "torch", "mamba_ssm")


def mamba_ssm_available() -> bool:
    """Whether the optional ``mamba_ssm`` CUDA kernel can be imported."""
    return bool(_HAS_MAMBA_SSM)


def default_chunk_size(length: int) -> int:
    """Chunk length used by :func:`selective_scan` for a sequence of ``length`` steps: ``ceil(sqrt(L / 2))``.

    Each chunk step costs a few large tensor operations and each chunk a small one; this balances the two
    (timings on CPU are flat between about ``sqrt(L) / 4`` and ``sqrt(L)``).

    Example:
        >>> default_chunk_size(4096), default_chunk_size(10)
        (46, 3)
    """
    length = max(int(length), 1)
    return max(1, min(length, math.ceil(math.sqrt(length / 2.0))))


def _check(u, delta, A, B, C, D, z, delta_bias) -> None:
    if u.ndim != 3 or delta.shape != u.shape:
        raise ValueError(f"u and delta must both be (batch, d_inner, length), got {tuple(u.shape)} and "
                         f"{tuple(delta.shape)}")
    batch, dim, length = u.shape
    if A.ndim != 2 or A.shape[0] != dim:
        raise ValueError(f"A must be (d_inner={dim}, d_state), got {tuple(A.shape)}")
    want = (batch, A.shape[1], length)
    for name, t in (("B", B), ("C", C)):
        if tuple(t.shape) != want:
            raise ValueError(f"{name} must be (batch, d_state, length) = {want}, got {tuple(t.shape)}")
    for name, t in (("D", D), ("delta_bias", delta_bias)):
        if t is not None and tuple(t.shape) != (dim,):
            raise ValueError(f"{name} must be (d_inner,) = ({dim},), got {tuple(t.shape)}")
    if z is not None and z.shape != u.shape:
        raise ValueError(f"z must have the shape of u {tuple(u.shape)}, got {tuple(z.shape)}")


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    dtype = torch.float32
    for t in tensors:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _prepare_delta(delta: torch.Tensor, delta_bias: torch.Tensor | None, delta_softplus: bool,
                   dtype: torch.dtype) -> torch.Tensor:
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    return F.softplus(delta) if delta_softplus else delta


def _finish(y: torch.Tensor, u: torch.Tensor, D: torch.Tensor | None, z: torch.Tensor | None) -> torch.Tensor:
    if D is not None:
        y = y + u.to(y.dtype) * D.to(y.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return y.to(u.dtype)


def selective_scan_ref(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                       D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                       delta_bias: torch.Tensor | None = None, delta_softplus: bool = False,
                       return_last_state: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The selective scan as a plain loop over time (the reference for tests; slow for long sequences).

    Args:
        u: input (batch, d_inner, L).
        delta: step sizes (batch, d_inner, L).
        A: state matrix diagonal (d_inner, d_state), negative for a decaying state.
        B: input projection (batch, d_state, L).
        C: output projection (batch, d_state, L).
        D: skip connection (d_inner,), optional.
        z: gate (batch, d_inner, L), optional: the output is multiplied by ``silu(z)``.
        delta_bias: added to ``delta`` (d_inner,), optional.
        delta_softplus: apply softplus to ``delta`` (after the bias).
        return_last_state: also return the final state (batch, d_inner, d_state).

    Returns:
        y (batch, d_inner, L) in the dtype of ``u``, and the last state when ``return_last_state``.

    Example:
        >>> u = torch.ones(1, 2, 3); A = -torch.ones(2, 1); B = C = torch.ones(1, 1, 3)
        >>> selective_scan_ref(u, torch.zeros(1, 2, 3), A, B, C)
        tensor([[[0., 0., 0.],
                 [0., 0., 0.]]])
    """
    _check(u, delta, A, B, C, D, z, delta_bias)
    dtype = _compute_dtype(u, delta, A, B, C)
    delta = _prepare_delta(delta, delta_bias, delta_softplus, dtype)
    uu, A, B, C = u.to(dtype), A.to(dtype), B.to(dtype), C.to(dtype)
    h = uu.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        decay = torch.exp(delta[:, :, t, None] * A)
        h = decay * h + (delta[:, :, t] * uu[:, :, t])[:, :, None] * B[:, None, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, -1) if ys else uu.new_zeros(u.shape)
    y = _finish(y, u, D, z)
    return (y, h) if return_last_state else y


def _arrange(x: torch.Tensor, chunk: int, n_chunks: int) -> torch.Tensor:
    """(batch, k, L) -> a new (chunk, n_chunks, batch, k) tensor, zero-padded at the end of the sequence."""
    batch, k, length = x.shape
    if x.stride(1) != 1 and (x.stride(1) * x.element_size()) % 1024 == 0:
        # transposing (batch, k, L) rows reads them L apart: a distance that is a multiple of 1 KiB maps onto few
        # cache sets and makes the copy several times slower; re-pad the rows first (a cheap contiguous copy)
        x = F.pad(x, (0, 16))[..., :length]
    x = x.transpose(1, 2)  # (batch, L, k)
    out = x.new_empty(chunk, n_chunks, batch, k)
    full, rest = divmod(length, chunk)
    if full:
        out[:, :full].copy_(x[:, :full * chunk].reshape(batch, full, chunk, k).permute(2, 1, 0, 3))
    if rest:
        out[:rest, full].copy_(x[:, full * chunk:].transpose(0, 1))
        out[rest:, full].zero_()
    return out


def _unarrange(x: torch.Tensor, length: int, like: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_arrange`: (chunk, n_chunks, batch, k) -> (batch, k, length), in the memory layout of
    ``like`` ((batch, L, k) storage when ``like`` has it, else contiguous)."""
    chunk, n_chunks, batch, k = x.shape
    out = x.permute(2, 1, 0, 3).reshape(batch, n_chunks * chunk, k)[:, :length].transpose(1, 2)
    return out if like.stride(1) == 1 and length > 1 else out.contiguous()


def _rows(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-step views (n_chunks, batch, 1, k) of an arranged (chunk, n_chunks, batch, k) tensor."""
    return x.unsqueeze(-2).unbind(0)


def _cols(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-step views (n_chunks, batch, k, 1) of an arranged (chunk, n_chunks, batch, k) tensor."""
    return x.unsqueeze(-1).unbind(0)


def _decay(dl_t: torch.Tensor, A2: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """exp(delta_t * A) of all chunks at step t into ``out`` (n_chunks, batch, d_state, d_inner); dl_t a row."""
    torch.mul(dl_t, A2, out=out)
    return out.exp2_()  # exp2 of log2(e) * x: several times faster than exp on CPU


class _ChunkedScan(torch.autograd.Function):
    """The selective scan with D, z, delta_bias and softplus fused in: y (batch, d_inner, L) and the last state.

    Every (batch, k, L) input is copied once into (chunk, n_chunks, batch, k) order, where all the work happens;
    states are kept as (n_chunks, batch, d_state, d_inner): d_inner innermost makes each step's element-wise work
    contiguous and its contractions over d_state small batched matrix products.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, softplus: bool, chunk: int):
        batch, dim, length = u.shape
        n_chunks = -(-length // chunk)
        ua, dl = _arrange(u, chunk, n_chunks), _delta(delta, delta_bias, softplus, chunk, n_chunks)[0]
        dl_rows, du_rows = _rows(dl), _rows(dl * ua)
        B_cols, C_rows = _cols(_arrange(B, chunk, n_chunks)), _rows(_arrange(C, chunk, n_chunks))
        A2 = (A * _LOG2E).t().contiguous()  # (d_state, d_inner)
        h = u.new_zeros(n_chunks, batch, A.shape[1], dim)
        a = torch.empty_like(h)
        h_in = torch.zeros_like(h)
        if n_chunks > 1:
            for t in range(chunk):  # pass 1: the state each chunk reaches from zero
                h.mul_(_decay(dl_rows[t], A2, a)).addcmul_(du_rows[t], B_cols[t])
            total = torch.exp2(dl.sum(0).unsqueeze(-2) * A2)  # decay over each whole chunk
            for c in range(n_chunks - 1):  # pass 2: carry the state across chunks
                torch.addcmul(h[c], total[c], h_in[c], out=h_in[c + 1])
            h.copy_(h_in)
        ys = torch.empty_like(ua)
        for t, y_t in enumerate(_rows(ys)):  # pass 3: outputs from the carried-in states
            h.mul_(_decay(dl_rows[t], A2, a)).addcmul_(du_rows[t], B_cols[t])
            torch.matmul(C_rows[t], h, out=y_t)
        if D is not None:
            ys.addcmul_(ua, D)
        if z is not None:
            ys.mul_(F.silu(_arrange(z, chunk, n_chunks), inplace=True))
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, h_in)
        ctx.softplus, ctx.chunk = softplus, chunk
        ctx.set_materialize_grads(False)
        return _unarrange(ys, length, z if z is not None else u), h[-1].transpose(1, 2).contiguous()

    @staticmethod
    def backward(ctx, grad_y, grad_last):
        u, delta, A, B, C, D, z, delta_bias, h_in = ctx.saved_tensors
        chunk, length, n_chunks = ctx.chunk, u.shape[-1], h_in.shape[0]

        def arrange(x):
            return _arrange(x, chunk, n_chunks)

        ua, (dl, dl_pre) = arrange(u), _delta(delta, delta_bias, ctx.softplus, chunk, n_chunks)
        Bt, Ct = arrange(B), arrange(C)
        dl_rows, du_rows, B_cols, B_rows, C_cols, C_rows = \
            _rows(dl), _rows(dl * ua), _cols(Bt), _rows(Bt), _cols(Ct), _rows(Ct)
        gy = arrange(grad_y) if grad_y is not None else torch.zeros_like(ua)
        A2 = (A * _LOG2E).t().contiguous()
        a = torch.empty_like(h_in)
        y_ssm = torch.empty_like(ua) if z is not None else None
        states = [h_in]  # states[t]: the state before step t in every chunk, recomputed
        for t in range(chunk):
            states.append((states[-1] * _decay(dl_rows[t], A2, a)).addcmul_(du_rows[t], B_cols[t]))
            if y_ssm is not None:
                torch.matmul(C_rows[t], states[-1], out=y_ssm[t].unsqueeze(-2))
        g_z = g_D = None
        if z is not None:  # y = (y_ssm + D u) * silu(z)
            za = arrange(z)
            sig = torch.sigmoid(za)
            if D is not None:
                y_ssm.addcmul_(ua, D)
            # silu'(z) = sig * (1 + z * (1 - sig))
            g_z = _unarrange(gy * y_ssm * sig * (1.0 + za * (1.0 - sig)), length, z)
            gy = gy * za.mul_(sig)
        if D is not None:
            g_D = (gy * ua).sum((0, 1, 2))
        gy_rows = _rows(gy)
        # the adjoint g_t = dL/dh_t obeys g_t = a_{t+1} g_{t+1} + C_t gy_t: the same chunked scan, reversed
        g = torch.zeros_like(h_in)
        if grad_last is not None:
            g[-1] = grad_last.transpose(1, 2)
        if n_chunks > 1:
            g_end = torch.zeros_like(h_in)
            for t in reversed(range(chunk)):  # pass 1: what each chunk passes back from zero
                g_end.addcmul_(C_cols[t], gy_rows[t]).mul_(_decay(dl_rows[t], A2, a))
            total = torch.exp2(dl.sum(0).unsqueeze(-2) * A2)
            for c in reversed(range(n_chunks - 1)):  # pass 2: the adjoint entering each chunk at its end
                torch.addcmul(g_end[c + 1], total[c + 1], g[c + 1], out=g[c])
        g_du, g_dl = torch.empty_like(dl), torch.empty_like(dl)
        g_B, g_C = torch.empty_like(Bt), torch.empty_like(Ct)
        g_du_rows, g_dl_rows, g_B_rows, g_C_rows = _rows(g_du), _rows(g_dl), _rows(g_B), _rows(g_C)
        g_A = torch.zeros_like(h_in)
        m = torch.empty_like(h_in)
        A_t = A.t().contiguous()
        for t in reversed(range(chunk)):  # pass 3: the exact adjoint and the gradients of every input
            g.addcmul_(C_cols[t], gy_rows[t])
            torch.matmul(gy_rows[t], states[t + 1].transpose(-1, -2), out=g_C_rows[t])
            torch.matmul(B_rows[t], g, out=g_du_rows[t])
            torch.matmul(du_rows[t], g.transpose(-1, -2), out=g_B_rows[t])
            _decay(dl_rows[t], A2, a)
            torch.mul(states[t], a, out=m).mul_(g)  # dL/da_t * a_t
            g_A.addcmul_(m, dl_rows[t])
            torch.sum(m.mul_(A_t), -2, keepdim=True, out=g_dl_rows[t])
            g.mul_(a)
        g_dl.addcmul_(g_du, ua)  # dL/d(delta after bias and softplus)
        g_du.mul_(dl)  # dL/du from the scan
        if D is not None:
            g_du.addcmul_(gy, D)
        if ctx.softplus:
            g_dl.mul_(torch.sigmoid_(dl_pre))
        rest = length % chunk
        if rest:  # padded steps are no inputs
            g_dl[rest:, -1].zero_()
        g_bias = g_dl.sum((0, 1, 2)) if delta_bias is not None else None
        return (_unarrange(g_du, length, u), _unarrange(g_dl, length, delta), g_A.sum((0, 1)).t(),
                _unarrange(g_B, length, B), _unarrange(g_C, length, C), g_D, g_z, g_bias, None, None)


def _delta(delta, delta_bias, softplus: bool, chunk: int, n_chunks: int):
    """Arranged step sizes after bias and softplus, and the arranged values before the softplus (or None)."""
    pre = _arrange(delta, chunk, n_chunks)
    if delta_bias is not None:
        pre.add_(delta_bias)
    dl = F.softplus(pre) if softplus else pre
    rest = delta.shape[-1] % chunk
    if rest:  # padded steps must leave the state unchanged: delta = 0
        dl[rest:, -1].zero_()
    return dl, (pre if softplus else None)


def _use_mamba_ssm(backend: str, tensors) -> bool:
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {list(_BACKENDS)}, got {backend!r}")
    ok = _HAS_MAMBA_SSM and all(t.is_cuda for t in tensors) and \
        all(t.dtype in (torch.float32, torch.float16, torch.bfloat16) for t in tensors)
    if backend == "mamba_ssm" and not ok:
        raise RuntimeError("backend='mamba_ssm' needs the mamba_ssm package and CUDA float32/float16/bfloat16 "
                           f"tensors (mamba_ssm importable: {bool(_HAS_MAMBA_SSM)})")
    return backend != "torch" and ok


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                   delta_bias: torch.Tensor | None = None, delta_softplus: bool = False,
                   return_last_state: bool = False, *, chunk_size: int | None = None,
                   backend: str = "auto") -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The selective scan, parallel over chunks of the sequence; same arguments and results as
    :func:`selective_scan_ref` (and as ``mamba_ssm``'s ``selective_scan_fn``).

    Args:
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state: see :func:`selective_scan_ref`.
        chunk_size: steps per chunk; ``None``: :func:`default_chunk_size` of the length.
        backend: "auto" (``mamba_ssm``'s CUDA kernel when importable and every tensor is on CUDA, else
            PyTorch), "torch", or "mamba_ssm" (an error when it cannot be used).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> u, delta = torch.randn(2, 4, 33, generator=g), torch.rand(2, 4, 33, generator=g)
        >>> A = -torch.rand(4, 3, generator=g); B, C = torch.randn(2, 2, 3, 33, generator=g)
        >>> y = selective_scan(u, delta, A, B, C)
        >>> y.shape, torch.allclose(y, selective_scan_ref(u, delta, A, B, C), atol=1e-5)
        (torch.Size([2, 4, 33]), True)
    """
    _check(u, delta, A, B, C, D, z, delta_bias)
    tensors = [t for t in (u, delta, A, B, C, D, z, delta_bias) if t is not None]
    if _use_mamba_ssm(backend, tensors):
        return _mamba_scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    dtype = _compute_dtype(u, delta, A, B, C)
    length = u.shape[-1]
    if length == 0:
        y, last = u.new_zeros(u.shape, dtype=dtype), u.new_zeros(*u.shape[:2], A.shape[1], dtype=dtype)
    else:
        chunk = default_chunk_size(length) if chunk_size is None else int(chunk_size)
        if chunk < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
        D, z, delta_bias = (t.to(dtype) if t is not None else None for t in (D, z, delta_bias))
        y, last = _ChunkedScan.apply(u.to(dtype), delta.to(dtype), A.to(dtype), B.to(dtype), C.to(dtype), D, z,
                                     delta_bias, bool(delta_softplus), min(chunk, length))
    y = y.to(u.dtype)
    return (y, last) if return_last_state else y
