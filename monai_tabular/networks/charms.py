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
"""CHARMS network: an image classifier, a table classifier trained on the same labels, and auxiliary heads that
predict each table attribute from the image channels the optimal-transport alignment assigned to it.

Only ``image_model`` (a plain :class:`~monai_tabular.networks.nets.ImageClassifier`) is deployed: the table model
and the auxiliary heads exist for training; evaluation and inference need no table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.nets.base import ModeMixin, get_image, get_table
from monai_tabular.networks.nets.factory import create_classifier

__all__ = ["CharmsNet"]


class CharmsNet(ModeMixin, nn.Module):
    """Image model phi + table model g + per-attribute auxiliary heads on alignment-weighted image channels.

    The C channels are those of the image encoder's last feature map (``forward_features(x)[-1]``), globally
    averaged. For the CNN encoders (ResNets) that average is the encoder's pooled embedding, so ``image_model``
    alone gives exactly the logits of this network: it is what evaluation and inference load.

    The alignment buffer ``alignment`` (A, C) holds, per attribute, a weight per channel (set by the re-alignment
    hook, ``set_alignment``; all ones before the first alignment) and ``attribute_active`` (A,) which attributes
    take part (dropped ones -- constant or fully missing -- have no auxiliary loss). Attribute ``a``'s head sees
    ``features * alignment[a]`` and predicts the attribute: one value (numerical, standardised) or its category
    logits (categorical; classes beyond the attribute's cardinality are masked). Heads are linear: the point is to
    make the aligned channels carry the attribute, not to fit it with a strong head.

    In training mode ``forward`` also runs the table model and the heads; in eval mode only the image model runs,
    so validation during training reads images only (``mode`` "both" and "image_only" are the same).

    Args:
        spatial_dims, in_channels: image geometry.
        n_numerical: numerical attributes; cardinalities: categorical cardinalities (unknown index included).
        out_channels: classes (or 1 for regression).
        image_encoder / image_encoder_args: image encoder (default ``"resnet50"`` as in the paper; CPU runs use
            ``"resnet10"`` with ``{"width_factor": 0.25}``).
        table_encoder / table_encoder_args: the table model's encoder (registry name).
        dropout: dropout before both classifiers' heads.
        auxiliary: build the auxiliary heads (``False`` for the knowledge-distillation comparison, which keeps
            image and table model only).
        column_texts: attribute header texts for header-aware table encoders.
        mode: "both" or "image_only".

    Example:
        >>> net = CharmsNet(spatial_dims=2, in_channels=1, n_numerical=2, cardinalities=[3], out_channels=2,
        ...                 image_encoder="resnet10", image_encoder_args={"width_factor": 0.125})
        >>> batch = {"image": torch.zeros(4, 1, 16, 16), "numerical": torch.zeros(4, 2),
        ...          "numerical_mask": torch.ones(4, 2), "categorical": torch.ones(4, 1, dtype=torch.long),
        ...          "categorical_mask": torch.ones(4, 1)}
        >>> out = net(batch)
        >>> out["aux_numerical"].shape, out["aux_categorical"].shape, net.alignment.shape
        (torch.Size([4, 2]), torch.Size([4, 1, 3]), torch.Size([3, 64]))
    """

    allowed_modes = ("both", "image_only")

    def __init__(self, *, spatial_dims: int, in_channels: int, n_numerical: int, cardinalities: Sequence[int],
                 out_channels: int, image_encoder: str = "resnet50", image_encoder_args: dict | None = None,
                 table_encoder: str = "mlp", table_encoder_args: dict | None = None, dropout: float = 0.0,
                 auxiliary: bool = True, column_texts: Sequence[str] | None = None, mode: str = "both") -> None:
        super().__init__()
        shared = {"spatial_dims": spatial_dims, "in_channels": in_channels, "n_numerical": int(n_numerical),
                  "cardinalities": [int(c) for c in cardinalities], "out_channels": out_channels,
                  "dropout": dropout}
        self.image_model = create_classifier(model="image", image_encoder=image_encoder,
                                             image_encoder_args=image_encoder_args, **shared)
        self.table_model = create_classifier(model="table", table_encoder=table_encoder,
                                             table_encoder_args=table_encoder_args, column_texts=column_texts,
                                             **shared)
        if not hasattr(self.image_model.encoder, "forward_features"):
            raise ValueError(f"CharmsNet needs an image encoder with forward_features (its channels are aligned); "
                             f"{image_encoder!r} has none")
        self.n_numerical, self.cardinalities = int(n_numerical), [int(c) for c in cardinalities]
        self.n_attributes = self.n_numerical + len(self.cardinalities)
        self.channels = int(self.image_model.encoder.feature_dim)
        self.auxiliary = bool(auxiliary)
        self.register_buffer("alignment", torch.ones(self.n_attributes, self.channels))
        self.register_buffer("attribute_active", torch.ones(self.n_attributes))
        if self.auxiliary:
            widest = max(self.cardinalities, default=1)
            self.numerical_weight = nn.Parameter(torch.empty(self.n_numerical, self.channels))
            self.numerical_bias = nn.Parameter(torch.zeros(self.n_numerical))
            self.categorical_weight = nn.Parameter(torch.empty(len(self.cardinalities), widest, self.channels))
            self.categorical_bias = nn.Parameter(torch.zeros(len(self.cardinalities), widest))
            for weight in (self.numerical_weight, self.categorical_weight):
                nn.init.normal_(weight, std=self.channels ** -0.5)
            valid = torch.arange(widest).unsqueeze(0) < torch.tensor(self.cardinalities or [0]).unsqueeze(1)
            self.register_buffer("class_valid", valid[:len(self.cardinalities)], persistent=False)
        self.mode = mode

    def channel_activations(self, image: torch.Tensor) -> torch.Tensor:
        """(B, C): the last feature map of the image encoder averaged over space."""
        feature_map = self.image_model.encoder.forward_features(image)[-1]
        return feature_map.flatten(2).mean(-1)

    def set_alignment(self, weights: torch.Tensor, active: torch.Tensor | Sequence[bool]) -> None:
        """Install an alignment: ``weights`` (A, C) attribute-by-channel, ``active`` (A,) attributes that take part."""
        weights = torch.as_tensor(weights, dtype=self.alignment.dtype)
        active = torch.as_tensor(active, dtype=self.attribute_active.dtype)
        if weights.shape != self.alignment.shape or active.shape != self.attribute_active.shape:
            raise ValueError(f"alignment must be (attributes, channels) = {tuple(self.alignment.shape)} with "
                             f"{self.n_attributes} active flags, got {tuple(weights.shape)} and {tuple(active.shape)}")
        self.alignment.copy_(weights)
        self.attribute_active.copy_(active)

    def forward(self, batch: Mapping[str, Any] | torch.Tensor) -> dict[str, torch.Tensor]:
        """``logits`` and ``image_embedding`` always; in training also ``table_logits`` and (``auxiliary``)
        ``aux_numerical`` (B, n_numerical), ``aux_categorical`` (B, n_categorical, max cardinality) and
        ``aux_active`` (A,)."""
        name = type(self).__name__
        image = batch if isinstance(batch, torch.Tensor) else get_image(batch, name)
        features = self.channel_activations(image)
        outputs = {"logits": self.image_model.head(self.image_model.dropout(features)), "image_embedding": features}
        if not self.training or isinstance(batch, torch.Tensor):
            return outputs
        outputs["table_logits"] = self.table_model.head(self.table_model.dropout(
            self.table_model.encoder(**get_table(batch, name))))
        if self.auxiliary:
            outputs.update(self._auxiliary(features))
        return outputs

    def _auxiliary(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        weights = self.alignment.to(features.dtype)
        numerical = weights[:self.n_numerical]
        categorical = weights[self.n_numerical:]
        predicted = features @ (self.numerical_weight * numerical).t() + self.numerical_bias
        logits = torch.einsum("bc,akc->bak", features, self.categorical_weight * categorical.unsqueeze(1))
        logits = (logits + self.categorical_bias).masked_fill(~self.class_valid, -1e4)
        return {"aux_numerical": predicted, "aux_categorical": logits, "aux_active": self.attribute_active}
