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
"""``PMoLin``: prototype-gated mixture of linear experts (the feed-forward layer of CITab's table transformer)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PMoLin", "SIMILARITIES"]

SIMILARITIES = ("cosine", "dot")
_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class PMoLin(nn.Module):
    """Prototype-gated mixture of ``n_experts`` linear layers, applied to each token independently.

    With learnable prototypes ``p_e`` (one per expert, in the input space) and experts ``Linear_e``::

        gate_e(x) = softmax_e(sim(x, p_e) / temperature)
        y = dropout(activation(sum_e gate_e(x) * Linear_e(x)))

    ``sim`` is the cosine similarity (``similarity="cosine"``, default temperature 0.1, so logits lie in
    [-10, 10]) or the scaled dot product ``x . p_e / sqrt(in_features)`` (``"dot"``, default temperature 1).
    The experts are stacked into one (E, in, out) weight and the mixture is computed as a single matrix product
    of the gate-weighted inputs, with no loop over tokens or experts.

    Args:
        in_features: token size.
        out_features: output size (default ``in_features``).
        n_experts: number of prototypes / linear experts (E).
        similarity: "cosine" or "dot".
        temperature: divides the similarities; ``None`` for the default of ``similarity``.
        bias: give each expert a bias.
        activation: ``None`` (default), "gelu", "relu", "silu" or "tanh", applied after the mixture.
        dropout: dropout probability on the output.

    Example:
        >>> layer = PMoLin(in_features=8, out_features=4, n_experts=3)
        >>> x = torch.randn(2, 5, 8)
        >>> layer(x).shape, layer.gates(x).shape
        (torch.Size([2, 5, 4]), torch.Size([2, 5, 3]))
        >>> torch.allclose(layer.gates(x).sum(-1), torch.ones(2, 5))
        True
    """

    def __init__(self, *, in_features: int, out_features: int | None = None, n_experts: int = 5,
                 similarity: str = "cosine", temperature: float | None = None, bias: bool = True,
                 activation: str | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        in_features = int(in_features)
        out_features = in_features if out_features is None else int(out_features)
        if in_features < 1 or out_features < 1:
            raise ValueError(f"PMoLin: in_features and out_features must be >= 1, got {in_features}, {out_features}")
        if int(n_experts) < 1:
            raise ValueError(f"PMoLin: n_experts must be >= 1, got {n_experts!r}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"PMoLin: similarity must be one of {list(SIMILARITIES)}, got {similarity!r}")
        temperature = (0.1 if similarity == "cosine" else 1.0) if temperature is None else float(temperature)
        if temperature <= 0:
            raise ValueError(f"PMoLin: temperature must be > 0, got {temperature!r}")
        if activation is not None and activation not in _ACTIVATIONS:
            raise ValueError(f"PMoLin: activation must be None or one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"PMoLin: dropout must be in [0, 1), got {dropout!r}")
        self.in_features, self.out_features, self.n_experts = in_features, out_features, int(n_experts)
        self.similarity, self.temperature = similarity, temperature
        self.prototypes = nn.Parameter(torch.randn(self.n_experts, in_features))
        bound = 1.0 / math.sqrt(in_features)  # the range nn.Linear initialises its weight and bias with
        self.weight = nn.Parameter(torch.empty(self.n_experts, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(self.n_experts, out_features).uniform_(-bound, bound)) if bias else None
        self.activation = _ACTIVATIONS[activation]() if activation is not None else nn.Identity()
        self.dropout = nn.Dropout(float(dropout))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, n_experts={self.n_experts}, "
                f"similarity={self.similarity!r}, temperature={self.temperature}")

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """Expert weights (..., E) of the tokens ``x`` (..., in_features); they sum to 1 over the experts."""
        if self.similarity == "cosine":
            logits = F.normalize(x, dim=-1) @ F.normalize(self.prototypes, dim=-1).t()
        else:
            logits = x @ self.prototypes.t() / math.sqrt(self.in_features)
        return torch.softmax(logits / self.temperature, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The mixture (..., out_features) of the tokens ``x`` (..., in_features)."""
        if x.shape[-1] != self.in_features:
            raise ValueError(f"PMoLin expects tokens of size {self.in_features} in the last dim, got {tuple(x.shape)}")
        gate = self.gates(x)  # (..., E)
        mixed_in = (gate.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2)  # (..., E * in): sum_e g_e x W_e in one GEMM
        y = mixed_in @ self.weight.reshape(self.n_experts * self.in_features, self.out_features)
        if self.bias is not None:
            y = y + gate @ self.bias
        return self.dropout(self.activation(y))
