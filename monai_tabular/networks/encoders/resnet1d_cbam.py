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
"""``ResNet1DCBAM``: the table row as a 1D sequence of attributes through residual CBAM blocks ("resnet1d_cbam")."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.utils import get_norm_layer
from torch import nn

from monai_tabular.networks.blocks.cbam import CBAM1d
from monai_tabular.networks.encoders.ft_transformer import FeatureTokenizer
from monai_tabular.networks.registry import register_encoder

__all__ = ["ResidualCBAMBlock1d", "ResNet1DCBAM"]


class ResidualCBAMBlock1d(nn.Module):
    """conv -> norm -> ReLU -> dropout -> conv -> norm -> CBAM, plus the shortcut, then ReLU; length kept.

    The shortcut is the identity, or a 1x1 convolution + norm when the channels change.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd convolution size over positions.
        norm: MONAI norm name or (name, args), e.g. "batch", "instance", ("group", {"num_groups": 4}).
        dropout: dropout between the two convolutions.
        reduction: CBAM channel-attention reduction.
        cbam_kernel_size: CBAM spatial-attention convolution size.

    Example:
        >>> ResidualCBAMBlock1d(4, 8, reduction=2)(torch.randn(2, 4, 5)).shape
        torch.Size([2, 8, 5])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, norm: str | tuple = "batch",
                 dropout: float = 0.0, reduction: int = 8, cbam_kernel_size: int = 7) -> None:
        super().__init__()
        if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
        pad = int(kernel_size) // 2
        self.body = nn.Sequential(
            nn.Conv1d(in_channels, out_channels, int(kernel_size), padding=pad, bias=False),
            get_norm_layer(norm, spatial_dims=1, channels=out_channels), nn.ReLU(), nn.Dropout(float(dropout)),
            nn.Conv1d(out_channels, out_channels, int(kernel_size), padding=pad, bias=False),
            get_norm_layer(norm, spatial_dims=1, channels=out_channels),
            CBAM1d(out_channels, reduction=reduction, kernel_size=cbam_kernel_size))
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv1d(in_channels, out_channels, 1, bias=False),
                                          get_norm_layer(norm, spatial_dims=1, channels=out_channels))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


@register_encoder("resnet1d_cbam", kind="table")
class ResNet1DCBAM(nn.Module):
    """1D ResNet with CBAM over the attributes of a table row (the table encoder of MT-CMTM).

    Every attribute is one position of a sequence: a numerical value becomes ``value * w_j + b_j`` (a per-column
    Linear(1, embedding_dim)), a categorical value a row of the column's embedding table, and a missing cell the
    column's learned missing vector (:class:`FeatureTokenizer`; the stored value of a missing cell is never read).
    Positions are ordered numerical columns first, then categorical. Residual blocks of 1D convolutions with CBAM
    (:class:`ResidualCBAMBlock1d`, stride 1: one position per attribute throughout) follow, and the embedding is
    the global average over positions of the last block.

    Args:
        n_numerical: number of numerical columns (may be 0).
        cardinalities: per categorical column, the number of indices including the unknown index 0 (may be []).
        embedding_dim: channels of the attribute embedding (the sequence's input channels).
        channels: output channels of each residual block; the last is ``feature_dim``.
        kernel_size: convolution size over attributes (odd).
        norm: MONAI norm name or (name, args) for the blocks, e.g. "batch" or ["group", {"num_groups": 4}].
        dropout: dropout inside each block.
        reduction: CBAM channel-attention reduction.
        cbam_kernel_size: CBAM spatial-attention convolution size (odd).

    Attributes:
        feature_dim: ``channels[-1]``.
        stage_dims: ``channels`` (``forward_features`` returns each block's sequence).

    Example:
        >>> enc = ResNet1DCBAM(n_numerical=2, cardinalities=[3, 4], embedding_dim=8, channels=[8, 16])
        >>> x, c = torch.zeros(5, 2), torch.ones(5, 2, dtype=torch.long)
        >>> enc(numerical=x, numerical_mask=torch.ones(5, 2), categorical=c, categorical_mask=torch.ones(5, 2)).shape
        torch.Size([5, 16])
        >>> [tuple(f.shape) for f in enc.forward_features(numerical=x, categorical=c)]
        [(5, 4, 8), (5, 4, 16)]
    """

    def __init__(self, *, n_numerical: int, cardinalities: list[int] | None = None, embedding_dim: int = 32,
                 channels: Sequence[int] = (32, 64, 128), kernel_size: int = 3, norm: str | Sequence = "batch",
                 dropout: float = 0.1, reduction: int = 8, cbam_kernel_size: int = 7) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 1:
            raise ValueError(f"ResNet1DCBAM: channels must be a non-empty list of positive ints, got {channels}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"ResNet1DCBAM: dropout must be in [0, 1), got {dropout!r}")
        self.tokenizer = FeatureTokenizer(n_numerical=n_numerical, cardinalities=cardinalities,
                                          d_token=embedding_dim, owner="ResNet1DCBAM")
        self.n_numerical, self.cardinalities = self.tokenizer.n_numerical, self.tokenizer.cardinalities
        norm = tuple(norm) if isinstance(norm, list) else norm  # JSON gives [name, args]
        blocks, in_ch = [], self.tokenizer.d_token
        for out_ch in channels:
            blocks.append(ResidualCBAMBlock1d(in_ch, out_ch, kernel_size=kernel_size, norm=norm,
                                              dropout=float(dropout), reduction=reduction,
                                              cbam_kernel_size=cbam_kernel_size))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.stage_dims: list[int] = channels
        self.feature_dim: int = channels[-1]

    def _run(self, numerical, numerical_mask, categorical, categorical_mask) -> list[torch.Tensor]:
        h = self.tokenizer(numerical, numerical_mask, categorical, categorical_mask).transpose(1, 2)  # (B, C, L)
        outputs = []
        for block in self.blocks:
            h = block(h)
            outputs.append(h)
        return outputs

    def forward_features(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                         categorical: torch.Tensor | None = None,
                         categorical_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Per block, the attribute sequence (B, n_numerical + n_categorical, channels[i])."""
        return [h.transpose(1, 2) for h in self._run(numerical, numerical_mask, categorical, categorical_mask)]

    def forward(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                categorical: torch.Tensor | None = None, categorical_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The embedding (B, feature_dim): the last block averaged over attributes."""
        return self._run(numerical, numerical_mask, categorical, categorical_mask)[-1].mean(dim=2)
