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
"""CBAM (Woo et al., 2018) for 1D sequences (B, C, L): channel attention, then attention over positions."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ChannelAttention1d", "SpatialAttention1d", "CBAM1d"]


class ChannelAttention1d(nn.Module):
    """Scale each channel by ``sigmoid(MLP(avg_pool(x)) + MLP(max_pool(x)))``, pooling over positions.

    Args:
        channels: input channels C.
        reduction: the shared MLP's hidden size is ``max(1, channels // reduction)``.

    Example:
        >>> ChannelAttention1d(8, reduction=4)(torch.randn(2, 8, 5)).shape
        torch.Size([2, 8, 5])
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        if int(channels) < 1 or int(reduction) < 1:
            raise ValueError(f"channels and reduction must be >= 1, got {channels!r}, {reduction!r}")
        hidden = max(1, int(channels) // int(reduction))
        self.mlp = nn.Sequential(nn.Linear(int(channels), hidden), nn.ReLU(), nn.Linear(hidden, int(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.mlp(x.mean(dim=2)) + self.mlp(x.amax(dim=2)))
        return x * weights.unsqueeze(2)


class SpatialAttention1d(nn.Module):
    """Scale each position by ``sigmoid(conv([mean over channels, max over channels]))``.

    Args:
        kernel_size: odd size of the convolution over positions (zero-padded to keep the length).

    Example:
        >>> SpatialAttention1d(kernel_size=3)(torch.randn(2, 8, 5)).shape
        torch.Size([2, 8, 5])
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
        self.conv = nn.Conv1d(2, 1, int(kernel_size), padding=int(kernel_size) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.stack([x.mean(dim=1), x.amax(dim=1)], dim=1)
        return x * torch.sigmoid(self.conv(maps))


class CBAM1d(nn.Module):
    """Convolutional Block Attention Module on (B, C, L): channel attention followed by spatial attention.

    Args:
        channels: input channels C.
        reduction: channel-attention MLP reduction.
        kernel_size: spatial-attention convolution size (odd).

    Example:
        >>> CBAM1d(16, reduction=4, kernel_size=3)(torch.randn(2, 16, 7)).shape
        torch.Size([2, 16, 7])
    """

    def __init__(self, channels: int, reduction: int = 8, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelAttention1d(channels, reduction)
        self.spatial = SpatialAttention1d(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            raise ValueError(f"CBAM1d expects (B, C, L), got shape {tuple(x.shape)}")
        return self.spatial(self.channel(x))
