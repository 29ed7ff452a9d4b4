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
"""``ImageClassifier``: an image encoder from the registry and a linear head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.nets.base import ModeMixin, build_encoder, check_head_args, get_image

__all__ = ["ImageClassifier"]


class ImageClassifier(ModeMixin, nn.Module):
    """Image-only classifier (or regressor): ``encoder`` -> dropout -> linear.

    Presence flags in the batch are ignored: every sample needs its image.

    Args:
        encoder: image encoder name in the registry (see ``list_encoders("image")``).
        spatial_dims: 2 or 3.
        in_channels: image channels.
        out_channels: number of classes (2 for binary), or 1 for regression.
        encoder_args: further encoder arguments, e.g. ``{"width_factor": 0.5}``.
        dropout: dropout on the embedding before the head.
        mode: "both" or "image_only" (the same here; accepted so that evaluators can set ``mode`` uniformly).

    Example:
        >>> net = ImageClassifier(encoder="resnet10", spatial_dims=2, in_channels=1, out_channels=2,
        ...                       encoder_args={"width_factor": 0.25})
        >>> out = net({"image": torch.zeros(2, 1, 32, 32)})
        >>> out["logits"].shape, out["image_embedding"].shape
        (torch.Size([2, 2]), torch.Size([2, 128]))
    """

    allowed_modes = ("both", "image_only")

    def __init__(self, *, encoder: str = "resnet18", spatial_dims: int, in_channels: int, out_channels: int,
                 encoder_args: dict[str, Any] | None = None, dropout: float = 0.0, mode: str = "both") -> None:
        super().__init__()
        check_head_args(type(self).__name__, out_channels, dropout)
        self.encoder = build_encoder(encoder, "image", type(self).__name__, encoder_args,
                                     spatial_dims=spatial_dims, in_channels=in_channels)
        self.dropout = nn.Dropout(float(dropout))
        self.head = nn.Linear(self.encoder.feature_dim, int(out_channels))
        self.mode = mode

    def forward(self, batch: Mapping[str, Any] | torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"logits": (B, out_channels), "image_embedding": (B, feature_dim)}``; ``batch`` may be the image."""
        image = batch if isinstance(batch, torch.Tensor) else get_image(batch, type(self).__name__)
        embedding = self.encoder(image)
        return {"logits": self.head(self.dropout(embedding)), "image_embedding": embedding}
