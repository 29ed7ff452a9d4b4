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
"""Swin Transformer image encoder (2D/3D) built from MONAI's ``SwinTransformer``, registered as "swin_t"."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.nets.swin_unetr import BasicLayer, SwinTransformer, compute_mask, get_window_size
from torch import nn

from monai_tabular.networks.encoders.resnet import check_image_input
from monai_tabular.networks.registry import register_encoder

__all__ = ["SwinEncoder"]

_DEFAULT_WINDOW = {2: 7, 3: 4}
_DEFAULT_PATCH = {2: 4, 3: 2}


def _per_dim(value: int | Sequence[int], spatial_dims: int, name: str) -> tuple[int, ...]:
    values = tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else (int(value),) * spatial_dims
    if len(values) != spatial_dims or any(v < 1 for v in values):
        raise ValueError(f"{name} must be a positive int or {spatial_dims} positive ints, got {value!r}")
    return values


@register_encoder("swin_t", kind="image")
class SwinEncoder(SwinTransformer):
    """Swin Transformer encoder: four stage feature maps and a pooled embedding (registry name "swin_t").

    The defaults are Swin-T (embed_dim 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), window 7 in 2D).

    The modules are MONAI's (:class:`monai.networks.nets.swin_unetr.SwinTransformer`: state-dict keys follow
    ``SwinUNETR.swinViT``, plus ``patch_embed.norm`` and ``norm``), with one change: MONAI merges patches at the
    *end* of every stage, this encoder has no merge after the last stage (as in the Swin paper; there is no
    ``layers4.0.downsample``), so stage ``i`` has ``embed_dim * 2**i`` channels at
    ``1 / (patch_size * 2**i)`` of the input size -- Swin-T on 224x224: 96x56x56, 192x28x28, 384x14x14, 768x7x7.
    The patch embedding (with LayerNorm, as in the paper) is not returned as a stage. The stages run MONAI's
    Swin blocks directly (not ``BasicLayer.forward``), so ``einops`` is not needed.

    Input sizes: every spatial size must be a multiple of ``patch_size * 2**3`` (32 in 2D, 16 in 3D with the
    defaults); other sizes raise a ``ValueError`` naming the multiple and the next valid size, before any
    convolution runs (pad in the data pipeline, e.g. ``monai.transforms.DivisiblePadd(k=32)``), rather than being
    zero-padded silently inside the network. Windows are padded by MONAI where a stage size is not a multiple of
    the window; a window larger than a stage shrinks to the stage size (and stops shifting).

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        embed_dim: channels after patch embedding (96 for Swin-T); stage ``i`` has ``embed_dim * 2**i``.
        depths: Swin blocks per stage (four stages), Swin-T: (2, 2, 6, 2).
        num_heads: attention heads per stage, Swin-T: (3, 6, 12, 24); each must divide its stage's channels.
        window_size: attention window, an int or one per spatial dim. Defaults: 7 in 2D (divides every stage of a
            224 input: 56, 28, 14, 7); 4 in 3D (divides the first two stages of any valid input and the later ones
            of common sizes such as 128 and 64, and a 4x4x4 window costs 64 tokens instead of 7x7x7 = 343; pass
            7 for SwinUNETR's setting).
        patch_size: patch embedding size and stride: 4 in 2D (Swin-T), 2 in 3D (SwinUNETR) by default.
        mlp_ratio: MLP width relative to the stage channels.
        drop_rate: dropout after the patch embedding and inside the blocks.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth, rising linearly to this value over the blocks (Swin-T ImageNet: 0.2).
        gradient_checkpointing: gradient checkpointing of every Swin block (MONAI's), to save memory when training
            (the same switch name as the other encoders).
        use_checkpoint: MONAI's name for the same switch (either turns it on).

    Attributes:
        feature_dim: size of the pooled embedding, ``stage_dims[-1]`` (768 for Swin-T).
        stage_dims: channels of the four stage outputs.

    ``forward_features`` returns the stage maps channel-first, each normalised over channels without learned
    parameters (as MONAI's ``SwinTransformer(normalize=True)``); ``forward`` applies a learned LayerNorm to the
    last stage's tokens and averages them over space (the Swin classification pooling).

    Example:
        >>> enc = SwinEncoder(spatial_dims=2, in_channels=3, embed_dim=12, depths=(1, 1, 1, 1))
        >>> [tuple(f.shape) for f in enc.forward_features(torch.zeros(1, 3, 64, 64))]
        [(1, 12, 16, 16), (1, 24, 8, 8), (1, 48, 4, 4), (1, 96, 2, 2)]
        >>> enc(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 96])
    """

    def __init__(self, *, spatial_dims: int, in_channels: int, embed_dim: int = 96,
                 depths: Sequence[int] = (2, 2, 6, 2), num_heads: Sequence[int] = (3, 6, 12, 24),
                 window_size: int | Sequence[int] | None = None, patch_size: int | Sequence[int] | None = None,
                 mlp_ratio: float = 4.0, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, gradient_checkpointing: bool = False,
                 use_checkpoint: bool = False) -> None:
        use_checkpoint = bool(use_checkpoint or gradient_checkpointing)
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        if int(in_channels) < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels!r}")
        depths, num_heads = [int(d) for d in depths], [int(h) for h in num_heads]
        if len(depths) != 4 or len(num_heads) != 4 or min(depths) < 1 or min(num_heads) < 1:
            raise ValueError(f"depths and num_heads must be 4 positive ints each (one per stage), "
                             f"got depths={depths}, num_heads={num_heads}")
        stage_dims = [int(embed_dim) * 2**i for i in range(4)]
        for i, (dim, heads) in enumerate(zip(stage_dims, num_heads)):
            if dim % heads:
                raise ValueError(f"num_heads[{i}]={heads} must divide stage {i}'s {dim} channels "
                                 f"(embed_dim {embed_dim} * {2**i})")
        for name, rate in (("drop_rate", drop_rate), ("attn_drop_rate", attn_drop_rate),
                           ("drop_path_rate", drop_path_rate)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
        window = _per_dim(_DEFAULT_WINDOW[spatial_dims] if window_size is None else window_size, spatial_dims,
                          "window_size")
        patch = _per_dim(_DEFAULT_PATCH[spatial_dims] if patch_size is None else patch_size, spatial_dims,
                         "patch_size")
        super().__init__(in_chans=int(in_channels), embed_dim=int(embed_dim), window_size=window, patch_size=patch,
                         depths=depths, num_heads=num_heads, mlp_ratio=float(mlp_ratio), qkv_bias=True,
                         drop_rate=float(drop_rate), attn_drop_rate=float(attn_drop_rate),
                         drop_path_rate=float(drop_path_rate), norm_layer=nn.LayerNorm, patch_norm=True,
                         use_checkpoint=bool(use_checkpoint), spatial_dims=spatial_dims, downsample="merging")
        self.layers4[0].downsample = None  # no merge after the last stage: its output is the last stage
        self.spatial_dims = spatial_dims
        self.in_channels = int(in_channels)
        self.use_checkpoint = bool(use_checkpoint)
        self.stage_dims: list[int] = stage_dims
        self.feature_dim: int = stage_dims[-1]
        self.size_multiple: tuple[int, ...] = tuple(p * 2**3 for p in patch)
        self.norm = nn.LayerNorm(self.feature_dim)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        name = f"{type(self).__name__}(spatial_dims={self.spatial_dims})"
        check_image_input(x, spatial_dims=self.spatial_dims, in_channels=self.in_channels, name=name)
        size = tuple(int(s) for s in x.shape[2:])
        if any(s % k for s, k in zip(size, self.size_multiple)):
            up = tuple(math.ceil(s / k) * k for s, k in zip(size, self.size_multiple))
            raise ValueError(f"{name} needs every spatial size to be a multiple of {list(self.size_multiple)} "
                             f"(patch_size x 2**3 patch merges), got spatial size {size}; pad to {up} "
                             f"(e.g. monai.transforms.DivisiblePad(k={list(self.size_multiple)})) or resize/crop")
        return x.as_subclass(torch.Tensor) if type(x) is not torch.Tensor else x

    @staticmethod
    def _blocks(layer: BasicLayer, x: torch.Tensor) -> torch.Tensor:
        """The Swin blocks of one MONAI ``BasicLayer`` on channel-last tokens (B, *spatial, C), without merging."""
        spatial = tuple(x.shape[1:-1])
        window, shift = get_window_size(spatial, layer.window_size, layer.shift_size)
        padded = [math.ceil(s / w) * w for s, w in zip(spatial, window)]
        mask = compute_mask(padded, window, shift, x.device)
        for block in layer.blocks:
            x = block(x, mask)
        return x

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Channel-last stage outputs (B, *spatial_i, stage_dims[i]) before normalisation."""
        x = self.pos_drop(self.patch_embed(self._check(x))).movedim(1, -1)
        outputs = []
        for layers in (self.layers1, self.layers2, self.layers3, self.layers4):
            x = self._blocks(layers[0], x)
            outputs.append(x)
            if layers[0].downsample is not None:
                x = layers[0].downsample(x)
        return outputs

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four stage maps (B, stage_dims[i], *spatial_i), each normalised over channels (no parameters)."""
        return [F.layer_norm(s, s.shape[-1:]).movedim(-1, 1) for s in self._stages(x)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled embedding (B, feature_dim): LayerNorm of the last stage's tokens, averaged over space."""
        return self.norm(self._stages(x)[-1]).flatten(1, -2).mean(1)
