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
"""nnMamba-style image encoder (2D/3D), registered as "nnmamba": residual convolutions, with Mamba blocks over
the voxels of the deeper stages for long-range context."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_norm_layer
from torch import nn
from torch.utils.checkpoint import checkpoint

from monai_tabular.networks.blocks.mamba import MambaBlock
from monai_tabular.networks.encoders.resnet import _checkpoint_contexts, check_image_input
from monai_tabular.networks.registry import register_encoder

__all__ = ["NNMambaEncoder", "ResidualConvBlock", "VoxelMamba"]


def _conv(spatial_dims: int, c_in: int, c_out: int, kernel_size: int, stride: int = 1) -> nn.Module:
    conv = Conv[Conv.CONV, spatial_dims](c_in, c_out, kernel_size=kernel_size, stride=stride,
                                         padding=kernel_size // 2, bias=False)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


class ResidualConvBlock(nn.Module):
    """conv3-norm-ReLU-conv3-norm plus a shortcut (1x1 conv + norm when the shape changes), then ReLU.

    Example:
        >>> ResidualConvBlock(spatial_dims=2, in_channels=2, out_channels=4, stride=2)(torch.zeros(1, 2, 8, 8)).shape
        torch.Size([1, 4, 4, 4])
    """

    def __init__(self, *, spatial_dims: int, in_channels: int, out_channels: int, stride: int = 1,
                 norm: str | tuple = "batch") -> None:
        super().__init__()
        self.conv1 = _conv(spatial_dims, in_channels, out_channels, 3, stride)
        self.norm1 = get_norm_layer(norm, spatial_dims, out_channels)
        self.conv2 = _conv(spatial_dims, out_channels, out_channels, 3)
        self.norm2 = get_norm_layer(norm, spatial_dims, out_channels)
        self.act = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(_conv(spatial_dims, in_channels, out_channels, 1, stride),
                                          get_norm_layer(norm, spatial_dims, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))
        return self.act(y + self.shortcut(x))


class VoxelMamba(nn.Module):
    """Pre-norm residual :class:`MambaBlock` over the voxels of a feature map (tokens = voxels, d_model = channels).

    The voxels are read in raster order (both ways when ``bidirectional``); with ``permuted_scan`` also in the
    reversed axis order (e.g. W-H-D instead of D-H-W), sharing the block; the orders' outputs are averaged.

    Example:
        >>> layer = VoxelMamba(channels=8, d_state=4, permuted_scan=True)
        >>> layer(torch.randn(2, 8, 3, 4, 5)).shape
        torch.Size([2, 8, 3, 4, 5])
    """

    def __init__(self, *, channels: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 bidirectional: bool = True, permuted_scan: bool = False) -> None:
        super().__init__()
        self.permuted_scan = bool(permuted_scan)
        self.norm = nn.LayerNorm(channels)
        self.mamba = MambaBlock(d_model=channels, d_state=d_state, d_conv=d_conv, expand=expand,
                                bidirectional=bidirectional)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, *spatial) -> same shape."""
        n_spatial = x.ndim - 2
        orders = [tuple(range(n_spatial))]
        if self.permuted_scan and n_spatial > 1:
            orders.append(tuple(reversed(orders[0])))
        out = 0
        for order in orders:
            perm = (0, *(2 + a for a in order), 1)  # channels last, spatial axes in the scan order
            xp = x.permute(perm)
            tokens = self.mamba(self.norm(xp.reshape(x.shape[0], -1, x.shape[1])))
            inverse = [perm.index(i) for i in range(x.ndim)]
            out = out + tokens.reshape(xp.shape).permute(inverse)
        return (x + out / len(orders)).contiguous()


@register_encoder("nnmamba", kind="image")
class NNMambaEncoder(nn.Module):
    """nnMamba-style encoder: a residual convolutional stem, four downsampling stages of residual convolution
    blocks, and in the stages ``mamba_stages`` a :class:`VoxelMamba` (Mamba over the stage's voxels) after the
    convolutions.

    Output strides are 4, 8, 16, 32 (with ``stem_stride=2``, as in ResNet), stage widths ``c * [1, 2, 4, 8]``
    with ``c = round(base_channels * width_factor)``.

    Args:
        spatial_dims: 1, 2 or 3.
        in_channels: image channels.
        base_channels: width of the stem and the first stage.
        width_factor: scales ``base_channels`` (as for the ResNet encoders).
        depths: residual conv blocks per stage (the first one downsamples by 2).
        mamba_stages: 0-based indices of the stages that end with a Mamba block.
        d_state: Mamba state size.
        d_conv: kernel size of Mamba's causal depthwise convolution.
        expand: Mamba's inner width factor.
        bidirectional: scan the voxels forwards and backwards (summed).
        permuted_scan: also scan in the reversed axis order (averaged with the raster order).
        stem_stride: stride of the first convolution.
        norm: normalisation of the conv blocks (MONAI name or (name, args)), e.g. "batch", "instance".
        gradient_checkpointing: recompute each stage in the backward pass (training only) to save memory.

    Attributes:
        feature_dim: size of the pooled embedding (``stage_dims[-1]``).
        stage_dims: channels of the four stage outputs.

    Example:
        >>> enc = NNMambaEncoder(spatial_dims=2, in_channels=1, base_channels=4, d_state=4)
        >>> [tuple(f.shape) for f in enc.forward_features(torch.zeros(2, 1, 32, 32))]
        [(2, 4, 8, 8), (2, 8, 4, 4), (2, 16, 2, 2), (2, 32, 1, 1)]
        >>> enc(torch.zeros(2, 1, 32, 32)).shape, enc.feature_dim
        (torch.Size([2, 32]), 32)
    """

    def __init__(self, *, spatial_dims: int, in_channels: int, base_channels: int = 16, width_factor: float = 1.0,
                 depths: Sequence[int] = (2, 2, 2, 2), mamba_stages: Sequence[int] = (1, 2, 3), d_state: int = 16,
                 d_conv: int = 4, expand: int = 2, bidirectional: bool = True, permuted_scan: bool = False,
                 stem_stride: int = 2, norm: str | tuple = "batch", gradient_checkpointing: bool = False) -> None:
        super().__init__()
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        if int(in_channels) < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels!r}")
        if int(base_channels) < 1 or not float(width_factor) > 0:
            raise ValueError(f"base_channels must be >= 1 and width_factor > 0, got {base_channels!r}, "
                             f"{width_factor!r}")
        depths = [int(d) for d in depths]
        if len(depths) != 4 or min(depths) < 1:
            raise ValueError(f"depths must be 4 numbers >= 1, got {depths!r}")
        mamba_stages = sorted({int(s) for s in mamba_stages})
        if any(s not in range(4) for s in mamba_stages):
            raise ValueError(f"mamba_stages must be 0-based stage indices in 0..3, got {mamba_stages!r}")
        if int(stem_stride) < 1:
            raise ValueError(f"stem_stride must be >= 1, got {stem_stride!r}")
        self.spatial_dims, self.in_channels = spatial_dims, int(in_channels)
        self.mamba_stages = mamba_stages
        self.gradient_checkpointing = bool(gradient_checkpointing)
        width = max(1, int(round(int(base_channels) * float(width_factor))))
        self.stage_dims: list[int] = [width * m for m in (1, 2, 4, 8)]
        self.feature_dim: int = self.stage_dims[-1]
        block = partial(ResidualConvBlock, spatial_dims=spatial_dims, norm=norm)
        self.conv1 = _conv(spatial_dims, self.in_channels, width, 3, int(stem_stride))
        self.norm1 = get_norm_layer(norm, spatial_dims, width)
        self.act = nn.ReLU(inplace=True)
        self.stem_block = block(in_channels=width, out_channels=width)
        self.stages = nn.ModuleList()
        c_in = width
        for i, (c_out, depth) in enumerate(zip(self.stage_dims, depths)):
            layers = [block(in_channels=c_in, out_channels=c_out, stride=2)]
            layers += [block(in_channels=c_out, out_channels=c_out) for _ in range(depth - 1)]
            if i in mamba_stages:
                layers.append(VoxelMamba(channels=c_out, d_state=d_state, d_conv=d_conv, expand=expand,
                                         bidirectional=bidirectional, permuted_scan=permuted_scan))
            self.stages.append(nn.Sequential(*layers))
            c_in = c_out

    def _run(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(module, x, use_reentrant=False, context_fn=partial(_checkpoint_contexts, module))
        return module(x)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four stage outputs for an image batch (B, in_channels, *spatial)."""
        check_image_input(x, spatial_dims=self.spatial_dims, in_channels=self.in_channels, name=type(self).__name__)
        if type(x) is not torch.Tensor:  # e.g. MONAI MetaTensor: plain tensors through the network
            x = x.as_subclass(torch.Tensor)
        x = self.stem_block(self.act(self.norm1(self.conv1(x))))
        features = []
        for stage in self.stages:
            x = self._run(stage, x)
            features.append(x)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled embedding (B, feature_dim): global average of the last stage."""
        return self.forward_features(x)[-1].flatten(2).mean(-1)
