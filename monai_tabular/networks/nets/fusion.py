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
"""``FusionClassifier``: late fusion of an image and a table embedding, robust to an absent modality."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.nets.base import (ModeMixin, batch_size, build_encoder, check_head_args, get_image,
                                              get_presence, get_table)

__all__ = ["FusionClassifier"]


def _encode(present: torch.Tensor, missing: torch.Tensor, run: Callable[[torch.Tensor | None], torch.Tensor],
            ) -> torch.Tensor:
    """Embeddings (B, D): ``run`` on the present samples only, the learned ``missing`` embedding elsewhere."""
    size = present.shape[0]
    if not bool(present.any()):  # nothing to encode: the encoder is not run at all
        return missing.unsqueeze(0).expand(size, -1)
    if bool(present.all()):
        return run(None)
    index = present.nonzero().squeeze(1)
    encoded = run(index)
    return missing.to(encoded.dtype).unsqueeze(0).repeat(size, 1).index_copy(0, index, encoded)


class FusionClassifier(ModeMixin, nn.Module):
    """Late fusion: image embedding ++ table embedding -> Linear -> ReLU -> Dropout -> Linear.

    An absent modality never enters as zeros: for a sample whose image (table) is absent -- ``mode``, or
    ``image_present``/``table_present`` == 0 in the batch -- the embedding is a learned "missing image" ("missing
    table") vector, and the encoder runs only on the samples that have the modality; in "image_only" mode the
    table encoder is not run at all (and vice versa), so single-modality inference costs one encoder.

    Args:
        image_encoder: image encoder name in the registry.
        table_encoder: table encoder name in the registry.
        spatial_dims: 2 or 3.
        in_channels: image channels.
        n_numerical: number of numerical columns.
        cardinalities: categorical cardinalities, each including the unknown index 0.
        out_channels: number of classes (2 for binary), or 1 for regression.
        image_encoder_args: further image encoder arguments, e.g. ``{"width_factor": 0.5}``.
        table_encoder_args: further table encoder arguments.
        hidden_dim: width of the fusion head.
        dropout: dropout in the fusion head.
        modality_dropout: in training only, the probability that a sample with both modalities loses one of them
            (image or table, equally likely; never both).
        mode: "both", "image_only" or "table_only"; may be changed after construction.

    Example:
        >>> net = FusionClassifier(image_encoder="resnet10", spatial_dims=2, in_channels=1, n_numerical=2,
        ...                        cardinalities=[3], out_channels=2, image_encoder_args={"width_factor": 0.25})
        >>> batch = {"image": torch.zeros(2, 1, 32, 32), "numerical": torch.zeros(2, 2),
        ...          "categorical": torch.ones(2, 1, dtype=torch.long)}
        >>> out = net(batch)
        >>> out["logits"].shape, out["image_embedding"].shape, out["table_embedding"].shape
        (torch.Size([2, 2]), torch.Size([2, 128]), torch.Size([2, 64]))
        >>> net.mode = "table_only"
        >>> net(batch)["image_present"].tolist()
        [0.0, 0.0]
    """

    allowed_modes = ("both", "image_only", "table_only")

    def __init__(self, *, image_encoder: str = "resnet18", table_encoder: str = "mlp", spatial_dims: int,
                 in_channels: int, n_numerical: int, cardinalities: list[int], out_channels: int,
                 image_encoder_args: dict[str, Any] | None = None, table_encoder_args: dict[str, Any] | None = None,
                 hidden_dim: int = 128, dropout: float = 0.0, modality_dropout: float = 0.0,
                 mode: str = "both") -> None:
        super().__init__()
        name = type(self).__name__
        check_head_args(name, out_channels, dropout)
        if not 0.0 <= float(modality_dropout) < 1.0:
            raise ValueError(f"{name}: modality_dropout must be in [0, 1), got {modality_dropout!r}")
        if int(hidden_dim) < 1:
            raise ValueError(f"{name}: hidden_dim must be >= 1, got {hidden_dim!r}")
        self.image_encoder = build_encoder(image_encoder, "image", name, image_encoder_args,
                                           spatial_dims=spatial_dims, in_channels=in_channels)
        self.table_encoder = build_encoder(table_encoder, "table", name, table_encoder_args,
                                           n_numerical=n_numerical, cardinalities=list(cardinalities))
        image_dim, table_dim = self.image_encoder.feature_dim, self.table_encoder.feature_dim
        self.missing_image = nn.Parameter(torch.empty(image_dim))
        self.missing_table = nn.Parameter(torch.empty(table_dim))
        nn.init.trunc_normal_(self.missing_image, std=0.02)
        nn.init.trunc_normal_(self.missing_table, std=0.02)
        self.head = nn.Sequential(nn.Linear(image_dim + table_dim, int(hidden_dim)), nn.ReLU(),
                                  nn.Dropout(float(dropout)), nn.Linear(int(hidden_dim), int(out_channels)))
        self.modality_dropout = float(modality_dropout)
        self.mode = mode

    def _presence(self, batch: Mapping[str, Any], size: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.missing_image.device
        image = get_presence(batch, "image_present", size, device) & (self.mode != "table_only")
        table = get_presence(batch, "table_present", size, device) & (self.mode != "image_only")
        if self.training and self.modality_dropout > 0 and self.mode == "both":
            drop = (torch.rand(size, device=device) < self.modality_dropout) & image & table
            drop_image = torch.rand(size, device=device) < 0.5
            image, table = image & ~(drop & drop_image), table & ~(drop & ~drop_image)
        return image, table

    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """``logits`` (B, out_channels), ``image_embedding``, ``table_embedding`` and the ``image_present`` /
        ``table_present`` flags (B,) actually used (after ``mode`` and modality dropout)."""
        name = type(self).__name__
        if not isinstance(batch, Mapping):
            raise TypeError(f"{name} expects the batch dict, got {type(batch).__name__}")
        image_present, table_present = self._presence(batch, batch_size(batch))

        def run_image(index: torch.Tensor | None) -> torch.Tensor:
            image = get_image(batch, name)
            return self.image_encoder(image if index is None else image[index.to(image.device)])

        def run_table(index: torch.Tensor | None) -> torch.Tensor:
            table = get_table(batch, name)
            if index is not None:
                table = {k: None if v is None else v[index.to(v.device)] for k, v in table.items()}
            return self.table_encoder(**table)

        image_embedding = _encode(image_present, self.missing_image, run_image)
        table_embedding = _encode(table_present, self.missing_table, run_table)
        fused = torch.cat([image_embedding, table_embedding.to(image_embedding.dtype)], dim=1)
        return {"logits": self.head(fused), "image_embedding": image_embedding, "table_embedding": table_embedding,
                "image_present": image_present.float(), "table_present": table_present.float()}
