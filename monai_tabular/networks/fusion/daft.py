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
"""``daft`` fusion (DAFT / FiLM): the table conditions the image feature map channel-wise."""

from __future__ import annotations

import torch
from torch import nn

from monai_tabular.networks.fusion.base import FusionBase
from monai_tabular.networks.fusion.registry import register_fusion

__all__ = ["DAFTFusion"]


@register_fusion("daft")
class DAFTFusion(FusionBase):
    """DAFT/FiLM fusion: the table vector (or a learned "missing table" embedding) predicts a per-channel scale
    and shift of ``image_map`` (2D or 3D), ``map * (1 + scale) + shift``, followed by ReLU, global average
    pooling and ``Linear(out_dim)``. A ``Linear`` table path is added to the output, and is the whole output when
    the image is absent: ``out = image_present * head(pool(film(map))) + table_head(table or missing)``.

    Args:
        image_dim: width of the pooled image features (unused by the fusion itself, kept for the interface).
        table_dim: width of the pooled table features.
        out_dim: width of the output.
        spatial_dims: 2, 3 or ``None`` (then ``image_map`` may be 2D or 3D).
        map_channels: channels C of ``image_map`` (default ``image_dim``).

    Example:
        >>> fusion = DAFTFusion(image_dim=8, table_dim=3, out_dim=2, spatial_dims=3)
        >>> fusion(torch.randn(2, 8), torch.randn(2, 3), image_present=torch.ones(2),
        ...        table_present=torch.tensor([1.0, 0.0]), image_map=torch.randn(2, 8, 2, 2, 2)).shape
        torch.Size([2, 2])
    """

    needs_image_map = True

    def __init__(self, *, image_dim: int, table_dim: int, out_dim: int, spatial_dims: int | None = None,
                 map_channels: int | None = None) -> None:
        super().__init__(image_dim=image_dim, table_dim=table_dim, out_dim=out_dim, spatial_dims=spatial_dims)
        self.map_channels = self.image_dim if map_channels is None else int(map_channels)
        if self.map_channels < 1:
            raise ValueError(f"{type(self).__name__}: map_channels must be >= 1, got {map_channels!r}")
        self.missing_table = nn.Parameter(torch.empty(self.table_dim))
        nn.init.trunc_normal_(self.missing_table, std=0.02)
        self.film = nn.Linear(self.table_dim, 2 * self.map_channels)
        self.head = nn.Linear(self.map_channels, self.out_dim)
        self.table_head = nn.Linear(self.table_dim, self.out_dim)

    def forward(self, image_features: torch.Tensor, table_features: torch.Tensor, *, image_present: torch.Tensor,
                table_present: torch.Tensor, image_map: torch.Tensor | None = None,
                table_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Fused features (B, out_dim); ``image_map`` (B, C, *spatial) is required when any image is present;
        ``image_features`` and ``table_tokens`` are not used."""
        _, table, ip, tp, image_map, _ = self.check_inputs(image_features, table_features, image_present,
                                                           table_present, image_map=image_map)
        self.require_map(image_map, ip)
        table = torch.where(tp[:, None] > 0.5, table, self.missing_table.to(table.dtype))
        out = self.table_head(table)
        if image_map is None:  # no sample has an image: the table path alone
            return out
        if image_map.shape[1] != self.map_channels:
            raise ValueError(f"{type(self).__name__}: image_map must have {self.map_channels} channels, "
                             f"got {image_map.shape[1]}")
        scale, shift = self.film(table).reshape(table.shape[0], 2, self.map_channels, *([1] * (image_map.ndim - 2))
                                                ).unbind(1)
        pooled = torch.relu(image_map * (1 + scale) + shift).flatten(2).mean(-1)
        return out + ip[:, None] * self.head(pooled)
