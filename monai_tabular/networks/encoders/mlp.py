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
"""``TableMLP``: an MLP over a clinical table row with learned values for missing cells (registry name "mlp")."""

from __future__ import annotations

import torch
from torch import nn

from monai_tabular.networks.encoders.table_inputs import check_table_inputs
from monai_tabular.networks.registry import register_encoder

__all__ = ["TableMLP"]


@register_encoder("mlp", kind="table")
class TableMLP(nn.Module):
    """MLP table encoder: numerical values and masks plus one embedding per categorical column.

    Missing cells never enter as the 0 they hold: a missing numerical cell is replaced by a learned per-column
    value (and the mask is an input too); a missing categorical cell takes a learned per-column "missing"
    embedding, distinct from index 0 (unknown category). Changing what a masked cell holds changes nothing.

    Args:
        n_numerical: number of numerical columns (may be 0).
        cardinalities: per categorical column, the number of indices including the unknown index 0 (may be []).
        embedding_dim: embedding size per categorical column.
        hidden_dims: sizes of the hidden layers (Linear, ReLU, Dropout each); the last is ``feature_dim``.
        dropout: dropout probability after each hidden layer.

    Attributes:
        feature_dim: ``hidden_dims[-1]``.
        stage_dims: ``hidden_dims`` (``forward_features`` returns each hidden layer).

    Example:
        >>> enc = TableMLP(n_numerical=2, cardinalities=[3, 4], hidden_dims=[16, 8])
        >>> x, c = torch.zeros(5, 2), torch.ones(5, 2, dtype=torch.long)
        >>> enc(x, torch.ones(5, 2), c, torch.ones(5, 2)).shape
        torch.Size([5, 8])
    """

    def __init__(self, *, n_numerical: int, cardinalities: list[int] | None = None, embedding_dim: int = 8,
                 hidden_dims: list[int] | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        cardinalities = [] if cardinalities is None else [int(c) for c in cardinalities]
        hidden_dims = [128, 64] if hidden_dims is None else [int(h) for h in hidden_dims]
        if int(n_numerical) < 0:
            raise ValueError(f"n_numerical must be >= 0, got {n_numerical!r}")
        if any(c < 1 for c in cardinalities):
            raise ValueError(f"cardinalities must be >= 1 (they include the unknown index 0), got {cardinalities}")
        if int(n_numerical) == 0 and not cardinalities:
            raise ValueError("TableMLP needs at least one column: n_numerical is 0 and cardinalities is empty")
        if not hidden_dims or any(h < 1 for h in hidden_dims):
            raise ValueError(f"hidden_dims must be a non-empty list of positive ints, got {hidden_dims}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim!r}")
        self.n_numerical = int(n_numerical)
        self.cardinalities = cardinalities
        self.embedding_dim = int(embedding_dim)
        self.missing_value = nn.Parameter(torch.zeros(self.n_numerical))
        # one table for all columns: column i owns rows offset_i .. offset_i + card_i, the last one is "missing"
        sizes = torch.tensor([c + 1 for c in cardinalities], dtype=torch.long)
        offsets = torch.cumsum(sizes, 0) - sizes
        self.register_buffer("_card", torch.tensor(cardinalities, dtype=torch.long), persistent=False)
        self.register_buffer("_offsets", offsets, persistent=False)
        self.embedding = nn.Embedding(int(sizes.sum()), self.embedding_dim) if cardinalities else None
        layers, in_dim = [], 2 * self.n_numerical + len(cardinalities) * self.embedding_dim
        for h in hidden_dims:
            layers.append(nn.Sequential(nn.Linear(in_dim, h), nn.ReLU(), nn.Dropout(float(dropout))))
            in_dim = h
        self.layers = nn.ModuleList(layers)
        self.stage_dims: list[int] = list(hidden_dims)
        self.feature_dim: int = hidden_dims[-1]

    def _inputs(self, numerical, numerical_mask, categorical, categorical_mask) -> torch.Tensor:
        x, x_obs, c, c_obs = check_table_inputs(numerical, numerical_mask, categorical, categorical_mask,
                                                n_numerical=self.n_numerical,
                                                n_categorical=len(self.cardinalities), owner="TableMLP")
        parts = []
        if self.n_numerical:
            x = torch.where(x_obs, x.to(self.missing_value.dtype), self.missing_value.expand_as(x))
            parts += [x, x_obs.to(x.dtype)]
        if self.embedding is not None:
            bad = c_obs & ((c < 0) | (c >= self._card))
            if bool(bad.any()):
                row, col = (int(i) for i in bad.nonzero()[0])
                raise ValueError(f"TableMLP: categorical column {col} has cardinality {self.cardinalities[col]} "
                                 f"(indices 0..{self.cardinalities[col] - 1}), got {int(c[row, col])} in row {row}")
            idx = torch.where(c_obs, c, self._card.expand_as(c)) + self._offsets
            parts.append(self.embedding(idx).flatten(1))
        return torch.cat(parts, dim=1)

    def forward_features(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                         categorical: torch.Tensor | None = None,
                         categorical_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The output of every hidden layer, each (B, hidden_dims[i]); left-out masks mean all observed."""
        h = self._inputs(numerical, numerical_mask, categorical, categorical_mask)
        features = []
        for layer in self.layers:
            h = layer(h)
            features.append(h)
        return features

    def forward(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                categorical: torch.Tensor | None = None, categorical_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The embedding (B, feature_dim): the last hidden layer."""
        return self.forward_features(numerical, numerical_mask, categorical, categorical_mask)[-1]
