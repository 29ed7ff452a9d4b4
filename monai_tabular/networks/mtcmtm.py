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
"""MT-CMTM networks: image-table contrastive pretraining with masked tabular modeling, and the table-only model.

Pretraining (:class:`MTCMTMPretrainer`) reads a batch whose table was corrupted by ``CorruptTabled`` (each observed
cell replaced, with probability p, by a draw from its column's training marginal). It returns the projections of
the image and of the corrupted table (for InfoNCE), the logits of the corruption mask (which cells were replaced),
and optionally a reconstruction of the original values. Downstream (:class:`MTCMTMTableModel`) the image encoder is
discarded: the pretrained table encoder (parameter prefix ``table_encoder.``) gets a task head and is fine-tuned or
linearly probed on the table alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.nets.base import ModeMixin, build_encoder, check_head_args, get_image, get_table

__all__ = ["ProjectionHead", "MTCMTMPretrainer", "MTCMTMTableModel"]


class ProjectionHead(nn.Module):
    """Linear -> ReLU -> Linear, mapping an encoder embedding into the shared contrastive space.

    Args:
        in_dim: embedding size.
        hidden_dim: hidden size.
        out_dim: projection size.

    Example:
        >>> ProjectionHead(in_dim=8, hidden_dim=16, out_dim=4)(torch.zeros(3, 8)).shape
        torch.Size([3, 4])
    """

    def __init__(self, *, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(int(in_dim), int(hidden_dim)), nn.ReLU(),
                                    nn.Linear(int(hidden_dim), int(out_dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MTCMTMPretrainer(nn.Module):
    """Image encoder + projection, table encoder + projection, mask-prediction head, optional reconstruction head.

    With ``use_image=False`` no image encoder is built (the "mask prediction only, no image" ablation): the batch
    needs no image and the outputs have no ``image_projection``.

    Args:
        n_numerical: numerical columns of the table.
        cardinalities: categorical cardinalities, each including the unknown index 0.
        spatial_dims: 2 or 3 (image branch).
        in_channels: image channels.
        use_image: build the image branch (contrastive term); ``False`` for the no-image ablation.
        image_encoder: image encoder name in the registry (ResNet-18 by default, as in the paper).
        image_encoder_args: further image encoder arguments, e.g. ``{"width_factor": 0.25}``.
        table_encoder: table encoder name (the 1D-ResNet-CBAM by default).
        table_encoder_args: further table encoder arguments.
        projection_dim: size of the shared contrastive space.
        projection_hidden_dim: hidden size of the projection heads.
        reconstruction: add a head that reconstructs the original (uncorrupted) values.

    Outputs of ``forward(batch)``: ``table_embedding`` (B, D_t), ``table_projection`` (B, P), ``mask_logits``
    (B, n_numerical + n_categorical; numerical columns first), ``logits`` (the same mask logits, for the trainer),
    with the image ``image_embedding`` / ``image_projection``, and with ``reconstruction``
    ``numerical_reconstruction`` (B, n_numerical) and ``categorical_reconstruction`` (B, n_categorical, K) logits
    (indices beyond a column's cardinality get a large negative logit).

    Example:
        >>> net = MTCMTMPretrainer(n_numerical=3, cardinalities=[3], spatial_dims=2, in_channels=1,
        ...                        image_encoder="resnet10", image_encoder_args={"width_factor": 0.125},
        ...                        table_encoder_args={"embedding_dim": 8, "channels": [8]}, projection_dim=16)
        >>> batch = {"image": torch.zeros(2, 1, 16, 16), "numerical": torch.zeros(2, 3),
        ...          "categorical": torch.ones(2, 1, dtype=torch.long)}
        >>> out = net(batch)
        >>> out["image_projection"].shape, out["table_projection"].shape, out["mask_logits"].shape
        (torch.Size([2, 16]), torch.Size([2, 16]), torch.Size([2, 4]))
    """

    def __init__(self, *, n_numerical: int, cardinalities: Sequence[int], spatial_dims: int = 2, in_channels: int = 1,
                 use_image: bool = True, image_encoder: str = "resnet18", image_encoder_args: dict | None = None,
                 table_encoder: str = "resnet1d_cbam", table_encoder_args: dict | None = None,
                 projection_dim: int = 128, projection_hidden_dim: int = 256, reconstruction: bool = False) -> None:
        super().__init__()
        owner = type(self).__name__
        self.n_numerical, self.cardinalities = int(n_numerical), [int(c) for c in cardinalities]
        n_columns = self.n_numerical + len(self.cardinalities)
        if n_columns == 0:
            raise ValueError(f"{owner}: the table has no numerical or categorical column to pretrain on")
        self.table_encoder = build_encoder(table_encoder, "table", owner, table_encoder_args,
                                           n_numerical=self.n_numerical, cardinalities=self.cardinalities)
        table_dim = self.table_encoder.feature_dim
        self.table_projection = ProjectionHead(in_dim=table_dim, hidden_dim=projection_hidden_dim,
                                               out_dim=projection_dim)
        self.mask_head = ProjectionHead(in_dim=table_dim, hidden_dim=projection_hidden_dim, out_dim=n_columns)
        self.use_image = bool(use_image)
        if self.use_image:
            self.image_encoder = build_encoder(image_encoder, "image", owner, image_encoder_args,
                                               spatial_dims=spatial_dims, in_channels=in_channels)
            self.image_projection = ProjectionHead(in_dim=self.image_encoder.feature_dim,
                                                   hidden_dim=projection_hidden_dim, out_dim=projection_dim)
        self.reconstruction = bool(reconstruction)
        if self.reconstruction:
            self.max_cardinality = max(self.cardinalities + [1])
            self.numerical_head = nn.Linear(table_dim, self.n_numerical)
            self.categorical_head = nn.Linear(table_dim, len(self.cardinalities) * self.max_cardinality)
            sizes = torch.tensor(self.cardinalities, dtype=torch.long).reshape(-1, 1)
            valid = torch.arange(self.max_cardinality)[None, :] < sizes
            self.register_buffer("categorical_valid", valid, persistent=False)

    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        owner = type(self).__name__
        embedding = self.table_encoder(**get_table(batch, owner))
        mask_logits = self.mask_head(embedding)
        out = {"table_embedding": embedding, "table_projection": self.table_projection(embedding),
               "mask_logits": mask_logits, "logits": mask_logits}
        if self.use_image:
            image_embedding = self.image_encoder(get_image(batch, owner))
            out["image_embedding"] = image_embedding
            out["image_projection"] = self.image_projection(image_embedding)
        if self.reconstruction:
            out["numerical_reconstruction"] = self.numerical_head(embedding)
            logits = self.categorical_head(embedding).view(embedding.shape[0], len(self.cardinalities),
                                                           self.max_cardinality)
            out["categorical_reconstruction"] = logits.masked_fill(~self.categorical_valid, -1e4)
        return out


class MTCMTMTableModel(ModeMixin, nn.Module):
    """The downstream table-only model: the (pretrained) table encoder and a linear task head; no image branch.

    The encoder's parameters are named ``table_encoder.*`` as in :class:`MTCMTMPretrainer`, so a pretraining
    checkpoint loads into it by name. With ``linear_probe`` the encoder is frozen (no gradients, normalisation
    layers kept in eval mode) and only the head trains; otherwise everything is fine-tuned.

    Args:
        n_numerical: numerical columns.
        cardinalities: categorical cardinalities, each including the unknown index 0.
        out_channels: classes (2 for binary), or 1 for regression.
        table_encoder: table encoder name (must match the pretraining run).
        table_encoder_args: table encoder arguments (must match the pretraining run).
        dropout: dropout on the embedding before the head.
        linear_probe: freeze the encoder and train the head only.
        mode: "both" or "table_only" (the same: the model reads the table only).

    Example:
        >>> net = MTCMTMTableModel(n_numerical=2, cardinalities=[3], out_channels=1,
        ...                        table_encoder_args={"embedding_dim": 8, "channels": [8]}, linear_probe=True)
        >>> net({"numerical": torch.zeros(4, 2), "categorical": torch.ones(4, 1, dtype=torch.long)})["logits"].shape
        torch.Size([4, 1])
        >>> sorted({p.requires_grad for n, p in net.named_parameters() if n.startswith("table_encoder.")})
        [False]
    """

    allowed_modes = ("both", "table_only")

    def __init__(self, *, n_numerical: int, cardinalities: Sequence[int], out_channels: int,
                 table_encoder: str = "resnet1d_cbam", table_encoder_args: dict | None = None, dropout: float = 0.0,
                 linear_probe: bool = False, mode: str = "both") -> None:
        super().__init__()
        owner = type(self).__name__
        check_head_args(owner, out_channels, dropout)
        self.table_encoder = build_encoder(table_encoder, "table", owner, table_encoder_args,
                                           n_numerical=int(n_numerical), cardinalities=[int(c) for c in cardinalities])
        self.dropout = nn.Dropout(float(dropout))
        self.head = nn.Linear(self.table_encoder.feature_dim, int(out_channels))
        self.linear_probe = bool(linear_probe)
        if self.linear_probe:
            self.table_encoder.requires_grad_(False)
        self.mode = mode

    def train(self, mode: bool = True) -> MTCMTMTableModel:
        super().train(mode)
        if self.linear_probe:  # a frozen encoder keeps its batch-norm statistics
            self.table_encoder.eval()
        return self

    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """``{"logits": (B, out_channels), "table_embedding": (B, feature_dim)}``; an image in the batch is ignored."""
        embedding = self.table_encoder(**get_table(batch, type(self).__name__))
        return {"logits": self.head(self.dropout(embedding)), "table_embedding": embedding}
