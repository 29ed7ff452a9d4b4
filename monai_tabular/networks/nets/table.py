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
"""``TableClassifier``: a table encoder from the registry and a linear head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.nets.base import ModeMixin, build_encoder, check_head_args, get_table

__all__ = ["TableClassifier"]


class TableClassifier(ModeMixin, nn.Module):
    """Table-only classifier (or regressor): ``encoder`` -> dropout -> linear.

    Presence flags in the batch are ignored: every sample needs its table row (missing cells are fine).

    Args:
        encoder: table encoder name in the registry (see ``list_encoders("table")``).
        n_numerical: number of numerical columns.
        cardinalities: categorical cardinalities, each including the unknown index 0.
        out_channels: number of classes (2 for binary), or 1 for regression.
        encoder_args: further encoder arguments, e.g. ``{"hidden_dims": [64, 32]}``.
        dropout: dropout on the embedding before the head.
        mode: "both" or "table_only" (the same here; accepted so that evaluators can set ``mode`` uniformly).

    Example:
        >>> net = TableClassifier(n_numerical=2, cardinalities=[3], out_channels=2)
        >>> batch = {"numerical": torch.zeros(4, 2), "numerical_mask": torch.ones(4, 2),
        ...          "categorical": torch.zeros(4, 1, dtype=torch.long), "categorical_mask": torch.ones(4, 1)}
        >>> net(batch)["logits"].shape
        torch.Size([4, 2])
    """

    allowed_modes = ("both", "table_only")

    def __init__(self, *, encoder: str = "mlp", n_numerical: int, cardinalities: list[int], out_channels: int,
                 encoder_args: dict[str, Any] | None = None, dropout: float = 0.0, mode: str = "both") -> None:
        super().__init__()
        check_head_args(type(self).__name__, out_channels, dropout)
        self.encoder = build_encoder(encoder, "table", type(self).__name__, encoder_args,
                                     n_numerical=n_numerical, cardinalities=list(cardinalities))
        self.dropout = nn.Dropout(float(dropout))
        self.head = nn.Linear(self.encoder.feature_dim, int(out_channels))
        self.mode = mode

    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """``{"logits": (B, out_channels), "table_embedding": (B, feature_dim)}``."""
        embedding = self.encoder(**get_table(batch, type(self).__name__))
        return {"logits": self.head(self.dropout(embedding)), "table_embedding": embedding}
