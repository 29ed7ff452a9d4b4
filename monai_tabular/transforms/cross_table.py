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
"""``EncodeCrossTabled``: a raw table row -> cross-table cells (values, observed flags, header ids)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from monai_tabular.data.cross_table import encode_cells
from monai_tabular.data.errors import SchemaError, TableDataError
from monai_tabular.data.schema import TableSchema
from monai_tabular.transforms.table import load_schema

__all__ = ["EncodeCrossTabled"]


class EncodeCrossTabled(MapTransform):
    """Encode the raw row at ``keys`` into ``cell_values``, ``cell_observed`` and ``cell_header_ids`` (see
    :func:`monai_tabular.data.cross_table.encode_cells`), with the schema of the sample's cohort.

    Rows of different cohorts give cells of different lengths and meanings: batch them with
    :func:`monai_tabular.data.cross_table.collate_cross_table`. The raw row is removed afterwards.

    Args:
        keys: key of the raw row (default ``"table"``).
        schemas: one fitted schema (or its JSON path) for every sample, or ``{cohort name: schema}``.
        header_texts: the network's header vocabulary (``header_vocabulary`` of the same schemas).
        cohort_key: the sample key naming its cohort (used when ``schemas`` is a mapping).
        allow_missing_keys: skip samples without the key.

    Example:
        >>> encode = EncodeCrossTabled("table", schemas={"a": schema_a, "b": schema_b},
        ...                            header_texts=vocabulary)   # doctest: +SKIP
        >>> encode({"table": {"age": 61.0}, "cohort": "a"})["cell_header_ids"]   # doctest: +SKIP
    """

    def __init__(self, keys: KeysCollection = "table", *,
                 schemas: TableSchema | str | Path | Mapping[str, TableSchema | str | Path],
                 header_texts: Sequence[str], cohort_key: str = "cohort", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        if isinstance(schemas, Mapping):
            self.schemas = {str(k): load_schema(v) for k, v in schemas.items()}
            self.single = None
        else:
            self.schemas, self.single = {}, load_schema(schemas)
        self.index = {text: i for i, text in enumerate(header_texts)}
        self.cohort_key = cohort_key

    def _schema(self, data: Mapping[Hashable, Any]) -> TableSchema:
        if self.single is not None:
            return self.single
        cohort = data.get(self.cohort_key)
        if cohort not in self.schemas:
            raise KeyError(f"EncodeCrossTabled: subject {data.get('subject_id')!r} has cohort {cohort!r}, which has "
                           f"no schema; cohorts: {sorted(self.schemas)}")
        return self.schemas[cohort]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            row = d[key]
            if not isinstance(row, Mapping):
                raise TypeError(f"EncodeCrossTabled: data[{key!r}] must be the raw row (column -> value), got "
                                f"{type(row).__name__}")
            try:
                cells = encode_cells(self._schema(d), row, self.index)
            except (TableDataError, SchemaError) as exc:
                raise type(exc)(f"subject {d.get('subject_id')!r}: {exc}", column=exc.column) from None
            for name, array in cells.items():
                d[name] = torch.from_numpy(array)
            del d[key]
        return d
