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
"""``gated_attention`` fusion: a softmax over the present modalities weighs their projections."""

from __future__ import annotations

import torch
from torch import nn

from monai_tabular.networks.fusion.base import FusionBase
from monai_tabular.networks.fusion.registry import register_fusion

__all__ = ["GatedAttentionFusion"]


@register_fusion("gated_attention")
class GatedAttentionFusion(FusionBase):
    """Gated attention fusion: both modalities are projected to ``out_dim``, a small shared gate
    (Linear -> Tanh -> Linear) scores each projection, and the output is the softmax-weighted sum of the
    projections; absent modalities are masked out of the softmax (weight exactly 0).

    Args:
        image_dim: width of the pooled image features.
        table_dim: width of the pooled table features.
        out_dim: width of the output (and of the projections).
        spatial_dims: unused (accepted for a uniform interface).
        gate_dim: hidden width of the gate (default ``out_dim``).

    Example:
        >>> fusion = GatedAttentionFusion(image_dim=4, table_dim=3, out_dim=2, gate_dim=8)
        >>> fusion(torch.randn(3, 4), torch.randn(3, 3), image_present=torch.tensor([1.0, 1.0, 0.0]),
        ...        table_present=torch.tensor([1.0, 0.0, 1.0])).shape
        torch.Size([3, 2])
        >>> fusion.last_weights.shape  # (B, 2): image, table
        torch.Size([3, 2])
    """

    needs_image_map = False

    def __init__(self, *, image_dim: int, table_dim: int, out_dim: int, spatial_dims: int | None = None,
                 gate_dim: int | None = None) -> None:
        super().__init__(image_dim=image_dim, table_dim=table_dim, out_dim=out_dim, spatial_dims=spatial_dims)
        gate_dim = self.out_dim if gate_dim is None else int(gate_dim)
        if gate_dim < 1:
            raise ValueError(f"{type(self).__name__}: gate_dim must be >= 1, got {gate_dim!r}")
        self.image_proj = nn.Linear(self.image_dim, self.out_dim)
        self.table_proj = nn.Linear(self.table_dim, self.out_dim)
        self.gate = nn.Sequential(nn.Linear(self.out_dim, gate_dim), nn.Tanh(), nn.Linear(gate_dim, 1))
        self.last_weights: torch.Tensor | None = None

    def forward(self, image_features: torch.Tensor, table_features: torch.Tensor, *, image_present: torch.Tensor,
                table_present: torch.Tensor, image_map: torch.Tensor | None = None,
                table_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Fused features (B, out_dim); the modality weights (B, 2) are kept in ``last_weights`` (detached)."""
        image, table, ip, tp, _, _ = self.check_inputs(image_features, table_features, image_present, table_present)
        projected = torch.stack([self.image_proj(image), self.table_proj(table)], dim=1)  # (B, 2, out_dim)
        scores = self.gate(projected).squeeze(-1)  # (B, 2)
        present = torch.stack([ip, tp], dim=1) > 0.5
        weights = torch.softmax(scores.masked_fill(~present, float("-inf")), dim=1)
        self.last_weights = weights.detach()
        return (weights.unsqueeze(-1) * projected).sum(dim=1)
