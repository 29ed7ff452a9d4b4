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
"""``MambaBlock``: the Mamba mixer (selective state space model) on token sequences, optionally bidirectional."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from monai_tabular.networks.blocks.selective_scan import selective_scan

__all__ = ["MambaBlock", "SelectiveSSM"]


class SelectiveSSM(nn.Module):
    """One scan direction of :class:`MambaBlock`: causal depthwise conv, SiLU, input-dependent SSM.

    Args:
        d_inner: channels of the sequence.
        d_state: state size per channel (N).
        d_conv: kernel size of the causal depthwise convolution.
        dt_rank: rank of the low-rank projection producing the step sizes.
        dt_min, dt_max: range of the initial step sizes (log-uniform).
        dt_init_floor: smallest initial step size.
        conv_bias: bias in the depthwise convolution.
        chunk_size: chunk length of the parallel scan (``None``: chosen from the sequence length).

    Example:
        >>> ssm = SelectiveSSM(d_inner=8, d_state=4, d_conv=4, dt_rank=2)
        >>> ssm(torch.randn(2, 8, 10), torch.randn(2, 8, 10)).shape
        torch.Size([2, 8, 10])
    """

    def __init__(self, *, d_inner: int, d_state: int = 16, d_conv: int = 4, dt_rank: int = 1, dt_min: float = 1e-3,
                 dt_max: float = 1e-1, dt_init_floor: float = 1e-4, conv_bias: bool = True,
                 chunk_size: int | None = None) -> None:
        super().__init__()
        self.d_inner, self.d_state, self.dt_rank, self.chunk_size = d_inner, d_state, dt_rank, chunk_size
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1, bias=conv_bias)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
        with torch.no_grad():
            bound = dt_rank ** -0.5
            self.dt_proj.weight.uniform_(-bound, bound)
            # initial step sizes log-uniform in [dt_min, dt_max]; the bias is their inverse softplus
            dt = torch.exp(torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
            dt = dt.clamp(min=dt_init_floor)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        # S4D-real initialisation: A[d, n] = -(n + 1), stored as log(-A)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, d_inner, L) sequence, optional gate z of the same shape -> (batch, d_inner, L)."""
        length = x.shape[-1]
        x = F.silu(self.conv1d(x)[..., :length])
        x_dbl = self.x_proj(x.transpose(1, 2))  # (batch, L, dt_rank + 2 * d_state)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.linear(dt, self.dt_proj.weight).transpose(1, 2)  # bias added inside the scan, before softplus
        return selective_scan(x, delta, -torch.exp(self.A_log), B.transpose(1, 2), C.transpose(1, 2), D=self.D, z=z,
                              delta_bias=self.dt_proj.bias, delta_softplus=True, chunk_size=self.chunk_size)


class MambaBlock(nn.Module):
    """The Mamba mixer on (batch, L, d_model) sequences.

    ``in_proj`` to a sequence and a gate (``expand * d_model`` channels each), a :class:`SelectiveSSM` on the
    sequence gated by ``silu(gate)``, ``out_proj`` back to ``d_model``. With ``bidirectional``, a second
    :class:`SelectiveSSM` (own convolution and SSM parameters) scans the reversed sequence, and the two outputs
    are summed before ``out_proj``.

    Args:
        d_model: channels of the tokens.
        d_state: SSM state size per channel.
        d_conv: kernel size of the causal depthwise convolution.
        expand: inner channels = ``expand * d_model``.
        dt_rank: rank of the step-size projection; ``None``: ``ceil(d_model / 16)``.
        bidirectional: also scan the sequence backwards.
        bias: bias in ``in_proj`` and ``out_proj``.
        conv_bias: bias in the depthwise convolutions.
        chunk_size: chunk length of the parallel scan (``None``: chosen from the sequence length).

    Example:
        >>> block = MambaBlock(d_model=8, d_state=4, bidirectional=True)
        >>> block(torch.randn(2, 10, 8)).shape
        torch.Size([2, 10, 8])
    """

    def __init__(self, *, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | None = None, bidirectional: bool = False, bias: bool = False, conv_bias: bool = True,
                 chunk_size: int | None = None) -> None:
        super().__init__()
        for name, value in (("d_model", d_model), ("d_state", d_state), ("d_conv", d_conv), ("expand", expand)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        self.d_model, self.d_inner = int(d_model), int(expand) * int(d_model)
        self.dt_rank = math.ceil(self.d_model / 16) if dt_rank is None else int(dt_rank)
        self.bidirectional = bool(bidirectional)
        self.in_proj = nn.Linear(self.d_model, 2 * self.d_inner, bias=bias)
        self.directions = nn.ModuleList(
            SelectiveSSM(d_inner=self.d_inner, d_state=int(d_state), d_conv=int(d_conv), dt_rank=self.dt_rank,
                         conv_bias=conv_bias, chunk_size=chunk_size) for _ in range(2 if self.bidirectional else 1))
        self.out_proj = nn.Linear(self.d_inner, self.d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, L, d_model) -> (batch, L, d_model)."""
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"MambaBlock expects (batch, length, {self.d_model}), got {tuple(x.shape)}")
        seq, gate = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)  # (batch, d_inner, L) each
        y = self.directions[0](seq, gate)
        if self.bidirectional:
            y = y + self.directions[1](seq.flip(-1), gate.flip(-1)).flip(-1)
        return self.out_proj(y.transpose(1, 2))
