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
"""ResNet image encoders (2D/3D) built from :class:`monai.networks.nets.ResNet`, registered as resnet10..resnet50."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial

import torch
from monai.networks.nets.resnet import ResNet, get_inplanes, resnet_params
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from monai_tabular.networks.registry import register_encoder

__all__ = ["ResNetEncoder", "check_image_input", "resnet10_encoder", "resnet18_encoder", "resnet34_encoder",
           "resnet50_encoder"]


def check_image_input(x: torch.Tensor, *, spatial_dims: int, in_channels: int, name: str = "encoder") -> None:
    """Raise a ``ValueError`` naming expected vs got when ``x`` is not a (B, in_channels, *spatial) batch.

    Example:
        >>> check_image_input(torch.zeros(2, 1, 8, 8), spatial_dims=2, in_channels=1)
        >>> check_image_input(torch.zeros(2, 3, 8, 8), spatial_dims=2, in_channels=1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: encoder expects 1 input channel(s) (input shape (B, 1, H, W)), got 3 channels: ...
    """
    spatial = "H, W" if spatial_dims == 2 else "D, H, W" if spatial_dims == 3 else f"{spatial_dims} spatial dims"
    expected = f"(B, {in_channels}, {spatial})"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects an image tensor of shape {expected}, got {type(x).__name__}")
    if x.ndim != spatial_dims + 2:
        raise ValueError(f"{name} expects a {spatial_dims}D image batch with {spatial_dims + 2} dims {expected}, "
                         f"got {x.ndim} dims: input shape {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ValueError(f"{name} expects {in_channels} input channel(s) (input shape {expected}), "
                         f"got {x.shape[1]} channels: input shape {tuple(x.shape)}")


@contextlib.contextmanager
def _keep_bn_stats(module: nn.Module) -> Iterator[None]:
    """Restore BatchNorm running statistics on exit, so a checkpoint's recomputation does not update them twice."""
    saved = [(m, {k: v.clone() for k, v in m.named_buffers(recurse=False) if v is not None})
             for m in module.modules() if isinstance(m, _BatchNorm)]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, buffers in saved:
                for k, v in buffers.items():
                    getattr(m, k).copy_(v)


def _checkpoint_contexts(module: nn.Module) -> tuple[contextlib.AbstractContextManager, ...]:
    """(forward context, recompute context) for ``torch.utils.checkpoint``'s ``context_fn``."""
    return contextlib.nullcontext(), _keep_bn_stats(module)


class ResNetEncoder(ResNet):
    """A MONAI ResNet without its classification layer: four stage feature maps and a pooled embedding.

    Blocks and layers per depth are MONAI's (``monai.networks.nets.resnet.resnet_params``); the shortcut is
    MONAI's type "B" (1x1 convolution + norm), so state-dict keys match ``monai.networks.nets.ResNet``.

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        depth: 10, 18, 34, 50 (also 101, 152, 200).
        width_factor: scales the stage widths [64, 128, 256, 512] (0.5: half width for CPU runs).
        conv1_t_size: kernel size of the first convolution.
        conv1_t_stride: stride of the first convolution.
        no_max_pool: skip the max pooling after the first convolution.
        gradient_checkpointing: recompute each stage in the backward pass (training only) to save memory;
            outputs, gradients and BatchNorm running statistics are the same as without.

    Attributes:
        feature_dim: size of the pooled embedding (``stage_dims[-1]``).
        stage_dims: channels of the four stage outputs.

    Example:
        >>> enc = ResNetEncoder(spatial_dims=2, in_channels=1, depth=10, width_factor=0.25)
        >>> [tuple(f.shape) for f in enc.forward_features(torch.zeros(2, 1, 32, 32))]
        [(2, 16, 8, 8), (2, 32, 4, 4), (2, 64, 2, 2), (2, 128, 1, 1)]
        >>> enc(torch.zeros(2, 1, 32, 32)).shape, enc.feature_dim
        (torch.Size([2, 128]), 128)
    """

    def __init__(self, *, spatial_dims: int, in_channels: int, depth: int = 18, width_factor: float = 1.0,
                 conv1_t_size: int | list[int] = 7, conv1_t_stride: int | list[int] = 2, no_max_pool: bool = False,
                 gradient_checkpointing: bool = False) -> None:
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        if int(in_channels) < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels!r}")
        key = f"resnet{depth}"
        if key not in resnet_params:
            raise ValueError(f"depth must be one of {sorted(int(k[6:]) for k in resnet_params)}, got {depth!r}")
        if not float(width_factor) > 0:
            raise ValueError(f"width_factor must be > 0, got {width_factor!r}")
        block, layers, _, bias_downsample, _ = resnet_params[key]
        inplanes = [max(1, int(round(c * float(width_factor)))) for c in get_inplanes()]
        conv1_size = tuple(conv1_t_size) if isinstance(conv1_t_size, (list, tuple)) else conv1_t_size
        conv1_stride = tuple(conv1_t_stride) if isinstance(conv1_t_stride, (list, tuple)) else conv1_t_stride
        super().__init__(block=block, layers=layers, block_inplanes=inplanes, spatial_dims=spatial_dims,
                         n_input_channels=int(in_channels), conv1_t_size=conv1_size, conv1_t_stride=conv1_stride,
                         no_max_pool=no_max_pool, shortcut_type="B", feed_forward=False,
                         bias_downsample=bias_downsample)
        self.spatial_dims = spatial_dims
        self.in_channels = int(in_channels)
        self.depth = depth
        self.gradient_checkpointing = bool(gradient_checkpointing)
        expansion = self.layer1[0].expansion
        self.stage_dims: list[int] = [c * expansion for c in inplanes]
        self.feature_dim: int = self.stage_dims[-1]

    def _stage(self, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(stage, x, use_reentrant=False, context_fn=partial(_checkpoint_contexts, stage))
        return stage(x)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of layer1..layer4 for an image batch (B, in_channels, *spatial)."""
        check_image_input(x, spatial_dims=self.spatial_dims, in_channels=self.in_channels,
                          name=f"{type(self).__name__}(resnet{self.depth})")
        if type(x) is not torch.Tensor:  # e.g. MONAI MetaTensor: plain tensors through the network
            x = x.as_subclass(torch.Tensor)
        x = self.act(self.bn1(self.conv1(x)))
        if not self.no_max_pool:
            x = self.maxpool(x)
        features = []
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = self._stage(stage, x)
            features.append(x)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled embedding (B, feature_dim): global average of the last stage."""
        return torch.flatten(self.avgpool(self.forward_features(x)[-1]), 1)


@register_encoder("resnet10", kind="image")
def resnet10_encoder(**kwargs) -> ResNetEncoder:
    """``ResNetEncoder`` with depth 10 (registry name "resnet10")."""
    return ResNetEncoder(depth=10, **kwargs)


@register_encoder("resnet18", kind="image")
def resnet18_encoder(**kwargs) -> ResNetEncoder:
    """``ResNetEncoder`` with depth 18 (registry name "resnet18")."""
    return ResNetEncoder(depth=18, **kwargs)


@register_encoder("resnet34", kind="image")
def resnet34_encoder(**kwargs) -> ResNetEncoder:
    """``ResNetEncoder`` with depth 34 (registry name "resnet34")."""
    return ResNetEncoder(depth=34, **kwargs)


@register_encoder("resnet50", kind="image")
def resnet50_encoder(**kwargs) -> ResNetEncoder:
    """``ResNetEncoder`` with depth 50 (registry name "resnet50")."""
    return ResNetEncoder(depth=50, **kwargs)
