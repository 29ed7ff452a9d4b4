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
"""Each column's empirical training marginal as tensors, for vectorised corruption of rows or whole batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from monai_tabular.data.schema import TableSchema

__all__ = ["TableMarginals"]


@dataclass
class TableMarginals:
    """Padded per-column marginals: draws for any batch shape with one gather, no Python loop over rows.

    Attributes:
        numerical_values: ``(n_numerical, L)`` standardised observed training values, right-padded.
        numerical_lengths: ``(n_numerical,)`` number of valid values per column.
        categorical_cdf: ``(n_categorical, K)`` cumulative category frequencies over indices ``0..K-1``
            (index 0, unknown, has probability 0).
        numerical_active / categorical_active: columns that can be corrupted (more than one observed value).
        excluded: names of the columns left out.

    Example:
        >>> marginals = TableMarginals.from_schema(schema)                               # doctest: +SKIP
        >>> x, flags = marginals.corrupt(batch["numerical"], batch["numerical_mask"],
        ...                              kind="numerical", rate=0.3)                     # doctest: +SKIP
    """

    numerical_values: torch.Tensor
    numerical_lengths: torch.Tensor
    categorical_cdf: torch.Tensor
    numerical_active: torch.Tensor
    categorical_active: torch.Tensor
    excluded: list[str]

    @classmethod
    def from_schema(cls, schema: TableSchema) -> TableMarginals:
        numerical = [schema[n] for n in schema.numerical]
        categorical = [schema[n] for n in schema.categorical]
        length = max([len(c.marginal or []) for c in numerical] + [1])
        values = torch.zeros(len(numerical), length, dtype=torch.float32)
        lengths = torch.ones(len(numerical), dtype=torch.long)
        for i, column in enumerate(numerical):
            marginal = torch.tensor(column.marginal or [column.center], dtype=torch.float64)
            values[i, : marginal.numel()] = ((marginal - column.center) / column.scale).float()
            lengths[i] = marginal.numel()
        width = max([c.cardinality for c in categorical] + [1])
        cdf = torch.ones(len(categorical), width, dtype=torch.float64)
        for i, column in enumerate(categorical):
            counts = torch.zeros(width, dtype=torch.float64)
            counts[1 : column.cardinality] = torch.tensor(column.counts or [], dtype=torch.float64)
            if counts.sum() > 0:
                cdf[i] = torch.cumsum(counts, 0) / counts.sum()
        cdf[:, -1] = 1.0
        return cls(
            numerical_values=values,
            numerical_lengths=lengths,
            categorical_cdf=cdf.float(),
            numerical_active=torch.tensor([bool(c.corruptible) for c in numerical], dtype=torch.bool),
            categorical_active=torch.tensor([bool(c.corruptible) for c in categorical], dtype=torch.bool),
            excluded=[c.name for c in numerical + categorical if not c.corruptible],
        )

    def sample(self, shape: tuple[int, ...], *, kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``shape + (n_columns,)`` values, each column from its own marginal."""
        if kind == "numerical":
            n = self.numerical_values.shape[0]
            u = torch.rand(*shape, n, generator=generator)
            index = (u * self.numerical_lengths).long().clamp_max(self.numerical_values.shape[1] - 1)
            columns = torch.arange(n).expand_as(index)
            return self.numerical_values[columns, index]
        if kind == "categorical":
            n = self.categorical_cdf.shape[0]
            u = torch.rand(*shape, n, 1, generator=generator)
            return (u >= self.categorical_cdf).sum(-1).clamp_max(self.categorical_cdf.shape[1] - 1)
        raise ValueError(f"kind must be 'numerical' or 'categorical', got {kind!r}")

    def corrupt(self, values: torch.Tensor, mask: torch.Tensor, *, kind: str, rate: float,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Corrupt observed cells of ``values`` (``(..., n_columns)``) with probability ``rate``.

        Returns the corrupted values (same dtype) and float flags, 1 where a cell was replaced.
        """
        active = self.numerical_active if kind == "numerical" else self.categorical_active
        if values.shape[-1] != active.numel():
            raise ValueError(f"{kind} values have {values.shape[-1]} columns but the schema has {active.numel()}")
        lead = tuple(values.shape[:-1])
        draws = self.sample(lead, kind=kind, generator=generator).to(device=values.device, dtype=values.dtype)
        hit = torch.rand(values.shape, generator=generator).to(values.device) < rate
        hit = hit & (mask > 0) & active.to(values.device)
        return torch.where(hit, draws, values), hit.to(torch.float32)
