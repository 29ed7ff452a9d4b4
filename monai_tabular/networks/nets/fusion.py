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
"""``FusionClassifier``: an image and a table embedding fused by a registered fusion, robust to an absent modality."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.fusion import create_fusion, get_fusion_class
from monai_tabular.networks.nets.base import (ModeMixin, batch_size, build_encoder, check_head_args, get_image,
                                              get_presence, get_table)

__all__ = ["FusionClassifier", "modality_dropout_rates"]


def _encode(present: torch.Tensor, fill: Callable[[int], torch.Tensor],
            run: Callable[[torch.Tensor | None], torch.Tensor]) -> torch.Tensor:
    """Features (B, ...): ``run`` on the present samples only, ``fill(B)`` (B, ...) rows elsewhere."""
    size = present.shape[0]
    if not bool(present.any()):  # nothing to encode: the encoder is not run at all
        return fill(size)
    if bool(present.all()):
        return run(None)
    index = present.nonzero().squeeze(1)
    encoded = run(index)
    return fill(size).to(encoded.dtype).clone().index_copy(0, index, encoded)


def modality_dropout_rates(value: float | Mapping[str, float], owner: str = "FusionClassifier",
                           ) -> tuple[float, float]:
    """``(image_rate, table_rate)`` from ``modality_dropout``: a number ``p`` (a sample with both modalities loses
    one of them with probability ``p``, image or table equally likely) or ``{"image": p_i, "table": p_t}``.

    Example:
        >>> modality_dropout_rates(0.4), modality_dropout_rates({"image": 0.3})
        ((0.2, 0.2), (0.3, 0.0))
    """
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"image", "table"})
        if unknown:
            raise ValueError(f"{owner}: modality_dropout keys must be 'image' and/or 'table', got {unknown}")
        rates = (float(value.get("image", 0.0)), float(value.get("table", 0.0)))
    else:
        rates = (float(value) / 2, float(value) / 2)
    if min(rates) < 0 or sum(rates) >= 1:
        raise ValueError(f"{owner}: modality_dropout must give rates >= 0 summing to < 1 (a sample never loses "
                         f"both modalities), got {value!r}")
    return rates


class FusionClassifier(ModeMixin, nn.Module):
    """An image encoder and a table encoder joined by a fusion from the registry, then ReLU -> Dropout -> Linear.

    ``fusion="concat"`` (default) is image embedding ++ table embedding -> Linear -> ReLU -> Dropout -> Linear, with
    learned "missing image"/"missing table" embeddings standing in for an absent modality. Any other registered
    fusion (``"late_average"``, ``"gated_attention"``, ``"daft"``, ``"cross_attention"``, ...) maps the two
    embeddings to ``hidden_dim`` and handles an absent modality itself (masked out, or its own learned
    embedding); fusions that need the image feature map (DAFT, cross-attention) get the encoder's last
    ``forward_features`` stage, and its spatial mean as the pooled image features.

    An absent modality never enters as data: for a sample whose image (table) is absent -- ``mode``, or
    ``image_present``/``table_present`` == 0 in the batch -- the encoder runs only on the samples that have the
    modality; in "image_only" mode the table encoder is not run at all (and vice versa).

    Args:
        image_encoder: image encoder name in the registry.
        table_encoder: table encoder name in the registry.
        spatial_dims: 2 or 3.
        in_channels: image channels.
        n_numerical: number of numerical columns.
        cardinalities: categorical cardinalities, each including the unknown index 0.
        out_channels: number of classes (2 for binary), 1 for regression or Cox survival, time bins for
            discrete-time survival.
        image_encoder_args: further image encoder arguments, e.g. ``{"width_factor": 0.5}``.
        table_encoder_args: further table encoder arguments.
        hidden_dim: width of the fusion output / head.
        dropout: dropout in the fusion head.
        modality_dropout: in training only, a sample with both modalities loses one: a number ``p`` (either one,
            equally likely, with total probability ``p``) or per-modality rates ``{"image": p_i, "table": p_t}``.
        fusion: fusion name in the registry (``networks.fusion.list_fusions()``).
        fusion_args: further fusion arguments (e.g. ``{"d_model": 64}`` for cross-attention).
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
        >>> daft = FusionClassifier(image_encoder="resnet10", spatial_dims=2, in_channels=1, n_numerical=2,
        ...                         cardinalities=[3], out_channels=2, fusion="daft",
        ...                         image_encoder_args={"width_factor": 0.25})
        >>> daft(batch)["logits"].shape
        torch.Size([2, 2])
    """

    allowed_modes = ("both", "image_only", "table_only")

    def __init__(self, *, image_encoder: str = "resnet18", table_encoder: str = "mlp", spatial_dims: int,
                 in_channels: int, n_numerical: int, cardinalities: list[int], out_channels: int,
                 image_encoder_args: dict[str, Any] | None = None, table_encoder_args: dict[str, Any] | None = None,
                 hidden_dim: int = 128, dropout: float = 0.0, modality_dropout: float | Mapping[str, float] = 0.0,
                 fusion: str = "concat", fusion_args: dict[str, Any] | None = None, mode: str = "both") -> None:
        super().__init__()
        name = type(self).__name__
        check_head_args(name, out_channels, dropout)
        if not isinstance(modality_dropout, Mapping) and not 0.0 <= float(modality_dropout) < 1.0:
            raise ValueError(f"{name}: modality_dropout must be in [0, 1), got {modality_dropout!r}")
        self.dropout_rates = modality_dropout_rates(modality_dropout, name)
        if int(hidden_dim) < 1:
            raise ValueError(f"{name}: hidden_dim must be >= 1, got {hidden_dim!r}")
        self.fusion_name = str(fusion).lower()
        get_fusion_class(self.fusion_name)  # unknown name: the error lists the registered ones
        self.image_encoder = build_encoder(image_encoder, "image", name, image_encoder_args,
                                           spatial_dims=spatial_dims, in_channels=in_channels)
        self.table_encoder = build_encoder(table_encoder, "table", name, table_encoder_args,
                                           n_numerical=n_numerical, cardinalities=list(cardinalities))
        image_dim, table_dim = self.image_encoder.feature_dim, self.table_encoder.feature_dim
        hidden_dim = int(hidden_dim)
        if self.fusion_name == "concat":
            if fusion_args:
                raise ValueError(f"{name}: fusion 'concat' takes no fusion_args, got {sorted(fusion_args)}")
            # the registry's ConcatFusion followed by the head, with the parameter names of earlier checkpoints
            self.missing_image = nn.Parameter(torch.empty(image_dim))
            self.missing_table = nn.Parameter(torch.empty(table_dim))
            nn.init.trunc_normal_(self.missing_image, std=0.02)
            nn.init.trunc_normal_(self.missing_table, std=0.02)
            self.fusion = None
            self.head = nn.Sequential(nn.Linear(image_dim + table_dim, hidden_dim), nn.ReLU(),
                                      nn.Dropout(float(dropout)), nn.Linear(hidden_dim, int(out_channels)))
            self.needs_image_map = False
        else:
            self.missing_image = self.missing_table = None
            self.fusion = create_fusion(self.fusion_name, image_dim=image_dim, table_dim=table_dim,
                                        out_dim=hidden_dim, spatial_dims=spatial_dims, **dict(fusion_args or {}))
            self.needs_image_map = bool(self.fusion.needs_image_map)
            self.head = nn.Sequential(nn.ReLU(), nn.Dropout(float(dropout)), nn.Linear(hidden_dim, int(out_channels)))
        self.image_dim, self.table_dim = image_dim, table_dim
        self.modality_dropout = sum(self.dropout_rates)
        self.mode = mode

    def _presence(self, batch: Mapping[str, Any], size: int, device: torch.device,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        image = get_presence(batch, "image_present", size, device) & (self.mode != "table_only")
        table = get_presence(batch, "table_present", size, device) & (self.mode != "image_only")
        neither = ~(image | table)
        if bool(neither.any()):
            ids = batch.get("subject_id")
            rows = neither.nonzero().flatten().tolist()
            who = [ids[i] for i in rows] if isinstance(ids, (list, tuple)) and len(ids) == size else rows
            raise ValueError(f"{type(self).__name__}: subjects {who} have neither the image nor the table "
                             f"(mode {self.mode!r}); every subject needs at least one modality")
        if self.training and self.modality_dropout > 0 and self.mode == "both":
            draw = torch.rand(size, device=device)
            both = image & table
            drop_image = both & (draw < self.dropout_rates[0])
            drop_table = both & (draw >= self.dropout_rates[0]) & (draw < sum(self.dropout_rates))
            image, table = image & ~drop_image, table & ~drop_table
        return image, table

    def _device(self) -> torch.device:
        return next(self.head.parameters()).device

    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """``logits`` (B, out_channels), ``image_embedding``, ``table_embedding`` and the ``image_present`` /
        ``table_present`` flags (B,) actually used (after ``mode`` and modality dropout). For ``concat`` an absent
        modality's embedding is the learned "missing" vector; for the other fusions it is zeros, which the fusion
        masks out."""
        name = type(self).__name__
        if not isinstance(batch, Mapping):
            raise TypeError(f"{name} expects the batch dict, got {type(batch).__name__}")
        device = self._device()
        image_present, table_present = self._presence(batch, batch_size(batch), device)
        image_map = None

        def zeros(width: int) -> Callable[[int], torch.Tensor]:
            return lambda size: torch.zeros(size, width, device=device)

        def run_table(index: torch.Tensor | None) -> torch.Tensor:
            table = get_table(batch, name)
            if index is not None:
                table = {k: None if v is None else v[index.to(v.device)] for k, v in table.items()}
            return self.table_encoder(**table)

        def image_of(index: torch.Tensor | None) -> torch.Tensor:
            image = get_image(batch, name)
            return image if index is None else image[index.to(image.device)]

        if self.needs_image_map and bool(image_present.any()):
            def run_map(index: torch.Tensor | None) -> torch.Tensor:
                return self.image_encoder.forward_features(image_of(index))[-1]

            if bool(image_present.all()):
                image_map = run_map(None)
            else:
                index = image_present.nonzero().squeeze(1)
                part = run_map(index)
                image_map = part.new_zeros(image_present.shape[0], *part.shape[1:]).index_copy(0, index, part)
            image_embedding = image_map.flatten(2).mean(-1)
        else:
            fill = (lambda size: self.missing_image.unsqueeze(0).expand(size, -1)) if self.fusion is None \
                else zeros(self.image_dim)
            image_embedding = _encode(image_present, fill, lambda index: self.image_encoder(image_of(index)))
        fill = (lambda size: self.missing_table.unsqueeze(0).expand(size, -1)) if self.fusion is None \
            else zeros(self.table_dim)
        table_embedding = _encode(table_present, fill, run_table).to(image_embedding.dtype)
        if self.fusion is None:
            fused = torch.cat([image_embedding, table_embedding], dim=1)
        else:
            fused = self.fusion(image_embedding, table_embedding, image_present=image_present.float(),
                                table_present=table_present.float(), image_map=image_map)
        return {"logits": self.head(fused), "image_embedding": image_embedding, "table_embedding": table_embedding,
                "image_present": image_present.float(), "table_present": table_present.float()}
