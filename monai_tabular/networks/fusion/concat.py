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
"""``concat`` fusion: [image or learned missing, table or learned missing] -> Linear."""

from __future__ import annotations

import torch
from torch import nn

from monai_tabular.networks.fusion.base import FusionBase
from monai_tabular.networks.fusion.registry import register_fusion

__all__ = ["ConcatFusion"]


@register_fusion("concat")
class ConcatFusion(FusionBase):
    """Concatenation fusion: an absent modality is replaced by a learned "missing" embedding, then Linear.

    Args:
        image_dim: width of the pooled image features.
        table_dim: width of the pooled table features.
        out_dim: width of the output.
        spatial_dims: unused (accepted for a uniform interface).

    Example:
        >>> fusion = ConcatFusion(image_dim=4, table_dim=3, out_dim=2)
        >>> fusion(torch.randn(2, 4), torch.randn(2, 3), image_present=torch.tensor([1.0, 0.0]),
        ...        table_present=torch.ones(2)).shape
        torch.Size([2, 2])
    """

    needs_image_map = False

    def __init__(self, *, image_dim: int, table_dim: int, out_dim: int, spatial_dims: int | None = None) -> None:
        super().__init__(image_dim=image_dim, table_dim=table_dim, out_dim=out_dim, spatial_dims=spatial_dims)
        self.missing_image = nn.Parameter(torch.empty(self.image_dim))
        self.missing_table = nn.Parameter(torch.empty(self.table_dim))
        nn.init.trunc_normal_(self.missing_image, std=0.02)
        nn.init.trunc_normal_(self.missing_table, std=0.02)
        self.head = nn.Linear(self.image_dim + self.table_dim, self.out_dim)

    def forward(self, image_features: torch.Tensor, table_features: torch.Tensor, *, image_present: torch.Tensor,
                table_present: torch.Tensor, image_map: torch.Tensor | None = None,
                table_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Fused features (B, out_dim); ``image_map`` and ``table_tokens`` are ignored."""
        image, table, ip, tp, _, _ = self.check_inputs(image_features, table_features, image_present, table_present)
        image = torch.where(ip[:, None] > 0.5, image, self.missing_image.to(image.dtype))
        table = torch.where(tp[:, None] > 0.5, table, self.missing_table.to(table.dtype))
        return self.head(torch.cat([image, table], dim=1))
