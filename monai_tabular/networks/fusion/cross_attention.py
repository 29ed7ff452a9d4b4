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
"""``cross_attention`` fusion: table tokens attend to the image patches."""

from __future__ import annotations

import torch
from torch import nn

from monai_tabular.networks.fusion.base import FusionBase
from monai_tabular.networks.fusion.registry import register_fusion

__all__ = ["CrossAttentionFusion"]


@register_fusion("cross_attention")
class CrossAttentionFusion(FusionBase):
    """Cross-attention fusion: table queries attend to the image patches.

    The queries are the table vector projected to ``d_model`` as one token, followed by the projected
    ``table_tokens`` (B, n_attr, token_dim) when given. The keys/values are the flattened ``image_map``
    patches projected to ``d_model``. With ``q`` the queries, ``a = mean(MHA(q, patches))`` the attended tokens
    (pooled), ``t = mean(q)`` and ``v = Linear(image_features)`` the image pooled path, the output is
    ``head(LayerNorm(image_present * v + table_present * (t + image_present * a)))``: an absent image leaves
    the table path alone, an absent table leaves the image pooled path alone.

    Args:
        image_dim: width of the pooled image features.
        table_dim: width of the pooled table features.
        out_dim: width of the output.
        spatial_dims: 2, 3 or ``None`` (then ``image_map`` may be 2D or 3D).
        d_model: attention width.
        num_heads: attention heads (must divide ``d_model``).
        map_channels: channels C of ``image_map`` (default ``image_dim``).
        token_dim: width of ``table_tokens``; ``None``: no table tokens (passing them is an error).
        dropout: attention dropout.

    Example:
        >>> fusion = CrossAttentionFusion(image_dim=8, table_dim=3, out_dim=2, d_model=8, num_heads=2)
        >>> fusion(torch.randn(2, 8), torch.randn(2, 3), image_present=torch.tensor([1.0, 0.0]),
        ...        table_present=torch.ones(2), image_map=torch.randn(2, 8, 4, 4)).shape
        torch.Size([2, 2])
    """

    needs_image_map = True

    def __init__(self, *, image_dim: int, table_dim: int, out_dim: int, spatial_dims: int | None = None,
                 d_model: int = 64, num_heads: int = 4, map_channels: int | None = None,
                 token_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__(image_dim=image_dim, table_dim=table_dim, out_dim=out_dim, spatial_dims=spatial_dims)
        name = type(self).__name__
        d_model, num_heads = int(d_model), int(num_heads)
        if d_model < 1 or num_heads < 1 or d_model % num_heads:
            raise ValueError(f"{name}: d_model ({d_model}) must be a positive multiple of num_heads ({num_heads})")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout!r}")
        self.map_channels = self.image_dim if map_channels is None else int(map_channels)
        if self.map_channels < 1:
            raise ValueError(f"{name}: map_channels must be >= 1, got {map_channels!r}")
        self.token_dim = None if token_dim is None else int(token_dim)
        self.d_model = d_model
        self.table_proj = nn.Linear(self.table_dim, d_model)
        self.token_proj = None if self.token_dim is None else nn.Linear(self.token_dim, d_model)
        self.patch_proj = nn.Linear(self.map_channels, d_model)
        self.image_proj = nn.Linear(self.image_dim, d_model)
        self.attention = nn.MultiheadAttention(d_model, num_heads, dropout=float(dropout), batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, self.out_dim)

    def forward(self, image_features: torch.Tensor, table_features: torch.Tensor, *, image_present: torch.Tensor,
                table_present: torch.Tensor, image_map: torch.Tensor | None = None,
                table_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Fused features (B, out_dim); ``image_map`` (B, C, *spatial) is required when any image is present."""
        name = type(self).__name__
        image, table, ip, tp, image_map, table_tokens = self.check_inputs(
            image_features, table_features, image_present, table_present, image_map=image_map,
            table_tokens=table_tokens)
        self.require_map(image_map, ip)
        queries = self.table_proj(table).unsqueeze(1)  # (B, 1, d)
        if table_tokens is not None:
            if self.token_proj is None or table_tokens.shape[-1] != self.token_dim:
                raise ValueError(f"{name}: table_tokens of width {table_tokens.shape[-1]} need token_dim="
                                 f"{table_tokens.shape[-1]} at construction (got token_dim={self.token_dim})")
            queries = torch.cat([queries, self.token_proj(table_tokens)], dim=1)  # (B, 1 + n_attr, d)
        fused = tp[:, None] * queries.mean(1)
        if image_map is not None:
            if image_map.shape[1] != self.map_channels:
                raise ValueError(f"{name}: image_map must have {self.map_channels} channels, "
                                 f"got {image_map.shape[1]}")
            patches = self.patch_proj(image_map.flatten(2).transpose(1, 2))  # (B, N, d)
            attended, _ = self.attention(queries, patches, patches, need_weights=False)
            fused = fused + (tp * ip)[:, None] * attended.mean(1) + ip[:, None] * self.image_proj(image)
        return self.head(self.norm(fused))
