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
"""Cross-table data: cohorts whose tables have different columns, in one training run.

Each cohort has its own fitted :class:`~monai_tabular.data.TableSchema` (its columns, in its own order, with its
own statistics). A row becomes a list of *cells*, one per column of its cohort: a value, an observed flag and a
*header text* -- the column's description (and unit) for a numerical column, ``"<header>: <category>"`` for an
observed categorical cell (value 1), so categories carry meaning too and an unseen one needs no new parameter.
The header texts of all cohorts form one vocabulary; cells carry indices into it, the network embeds the
vocabulary once. :func:`collate_cross_table` pads the cells of a batch to its longest row.

Typical use (the ``citab_pretrain`` bundle): :func:`split_cohorts` assigns the training subjects of a fold to
cohorts defined by column lists, :func:`fit_cohort_schemas` fits one schema per cohort,
:func:`header_vocabulary` gives the vocabulary, and ``EncodeCrossTabled`` turns rows into cells.
"""

from __future__ import annotations

import fnmatch
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from monai_tabular.data.errors import SchemaError
from monai_tabular.data.schema import ColumnSchema, TableSchema

__all__ = ["CELL_KEYS", "PADDING_KEY", "UNKNOWN_CATEGORY", "CrossTableData", "column_header", "cell_texts",
           "header_vocabulary", "encode_cells", "collate_cross_table", "split_cohorts", "fit_cohort_schemas",
           "prepare_cross_table", "label_subset", "CachedImages"]

logger = logging.getLogger(__name__)

CELL_KEYS = ("cell_values", "cell_observed", "cell_header_ids")
PADDING_KEY = "cell_padding"
UNKNOWN_CATEGORY = "unknown"


def column_header(column: ColumnSchema) -> str:
    """The header text of a column: its description, with its unit in brackets; an empty one is an error.

    Example:
        >>> column_header(ColumnSchema(name="age", role="numerical", description="age at scan", unit="years"))
        'age at scan (years)'
    """
    description = (column.description or "").strip()
    if not description:
        raise SchemaError(f"column {column.name!r} has an empty header (description): every column of a "
                          "cross-table run needs a header text", column=column.name)
    return f"{description} ({column.unit})" if column.unit else description


def _headers(schema: TableSchema) -> dict[str, str]:
    """Column name -> header text for the numerical and categorical columns; duplicated headers are an error."""
    headers: dict[str, str] = {}
    owners: dict[str, str] = {}
    for name in schema.features:
        column = schema[name]
        if column.role == "text":
            continue
        header = column_header(column)
        if header in owners:
            raise SchemaError(f"columns {owners[header]!r} and {name!r} have the same header {header!r}: the header "
                              "text is what tells columns apart, give them distinct descriptions", column=name)
        owners[header], headers[name] = name, header
    return headers


def cell_texts(schema: TableSchema) -> list[str]:
    """Every header text a row of ``schema`` can produce: numerical headers; for a categorical column its header
    (a missing cell), ``"<header>: <category>"`` per fitted category and ``"<header>: unknown"``.

    Example:
        >>> schema = TableSchema([ColumnSchema(name="smoker", role="categorical", description="smoker",
        ...                                    categories=["no", "yes"], missing_rate=0.0)])
        >>> cell_texts(schema)
        ['smoker', 'smoker: no', 'smoker: yes', 'smoker: unknown']
    """
    texts = []
    for name, header in _headers(schema).items():
        texts.append(header)
        column = schema[name]
        if column.role == "categorical":
            if column.categories is None:
                raise SchemaError("cross-table cells need a fitted schema (categories)", column=name)
            texts += [f"{header}: {c}" for c in column.categories] + [f"{header}: {UNKNOWN_CATEGORY}"]
    return texts


def header_vocabulary(schemas: Sequence[TableSchema] | Mapping[str, TableSchema] | TableSchema) -> list[str]:
    """The union of :func:`cell_texts` of the schemas, in first-seen order (the network's ``header_texts``).

    Example:
        >>> header_vocabulary([schema_a, schema_b])   # doctest: +SKIP
    """
    if isinstance(schemas, TableSchema):
        schemas = [schemas]
    elif isinstance(schemas, Mapping):
        schemas = list(schemas.values())
    return list(dict.fromkeys(t for schema in schemas for t in cell_texts(schema)))


def encode_cells(schema: TableSchema, row: Mapping[str, Any], index: Mapping[str, int], *,
                 column_order: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """One row as cells: ``cell_values`` (float32), ``cell_observed`` (float32 0/1), ``cell_header_ids`` (int64),
    one entry per numerical/categorical column of ``schema`` (in ``column_order`` when given).

    Numerical cells are standardised with the schema's statistics; a categorical cell has value 1 and the header
    ``"<header>: <category>"`` (``"<header>: unknown"`` for a category unseen at fitting). Missing cells have value
    0, observed 0 and the column's header.

    Example:
        >>> index = {text: i for i, text in enumerate(vocabulary)}                   # doctest: +SKIP
        >>> cells = encode_cells(schema, {"age": 61.0, "sex": "F"}, index)          # doctest: +SKIP
    """
    headers = _headers(schema)
    names = list(headers) if column_order is None else list(column_order)
    encoded = schema.encode_row({name: row.get(name) for name in names})
    numerical = {n: i for i, n in enumerate(schema.numerical)}
    values = np.zeros(len(names), dtype=np.float32)
    observed = np.zeros(len(names), dtype=np.float32)
    ids = np.zeros(len(names), dtype=np.int64)
    for position, name in enumerate(names):
        header = headers[name]
        text = header
        if name in numerical:
            i = numerical[name]
            values[position], observed[position] = encoded["numerical"][i], encoded["numerical_mask"][i]
        else:
            column = schema[name]
            value = row.get(name)
            category = column.category_index(value)
            if category is not None:
                label = column.categories[category - 1] if category > 0 else UNKNOWN_CATEGORY
                text, values[position], observed[position] = f"{header}: {label}", 1.0, 1.0
        if text not in index:
            raise SchemaError(f"header text {text!r} of column {name!r} is not in the header vocabulary of the "
                              "network; build the vocabulary with header_vocabulary() of the same schemas",
                              column=name)
        ids[position] = index[text]
    return {"cell_values": values, "cell_observed": observed, "cell_header_ids": ids}


def collate_cross_table(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Collate samples whose cell tensors differ in length: pad them to the longest row of the batch and add
    ``cell_padding`` (B, n) (True = padding); everything else is collated by MONAI's ``list_data_collate``.

    Example:
        >>> def cells(n):
        ...     return {"cell_values": torch.ones(n), "cell_observed": torch.ones(n),
        ...             "cell_header_ids": torch.arange(n)}
        >>> a, b = cells(2), cells(3)
        >>> out = collate_cross_table([a, b])
        >>> out["cell_values"].shape, out["cell_padding"][0].tolist()
        (torch.Size([2, 3]), [False, False, True])
    """
    from monai.data.utils import list_data_collate

    if not batch:
        raise ValueError("collate_cross_table got an empty batch")
    lacking = [i for i, sample in enumerate(batch) if any(k not in sample for k in CELL_KEYS)]
    if lacking:
        raise KeyError(f"collate_cross_table: sample(s) {lacking} lack the cell keys {list(CELL_KEYS)}; encode the "
                       "rows with EncodeCrossTabled first")
    lengths = [len(sample["cell_values"]) for sample in batch]
    width = max(lengths)
    padded: dict[str, torch.Tensor] = {}
    for key in CELL_KEYS:
        first = torch.as_tensor(batch[0][key])
        out = torch.zeros(len(batch), width, dtype=first.dtype)
        for row, sample in enumerate(batch):
            out[row, :lengths[row]] = torch.as_tensor(sample[key]).as_subclass(torch.Tensor)
        padded[key] = out
    padded[PADDING_KEY] = torch.arange(width).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)
    rest = list_data_collate([{k: v for k, v in sample.items() if k not in CELL_KEYS} for sample in batch])
    return {**rest, **padded}


def _expand_columns(patterns: Sequence[str], available: Sequence[str], cohort: str) -> list[str]:
    chosen: list[str] = []
    for pattern in patterns:
        hits = [c for c in available if fnmatch.fnmatchcase(c, pattern)]
        if not hits:
            raise SchemaError(f"cohort {cohort!r}: column {pattern!r} matches no feature column; features: "
                              f"{list(available)[:20]}{' ...' if len(available) > 20 else ''}", column=pattern)
        chosen += [c for c in hits if c not in chosen]
    return chosen


def _check_cohorts(cohorts: Sequence[Mapping[str, Any]]) -> None:
    if not cohorts:
        raise ValueError("cross-table data needs at least one cohort")
    names = [str(c.get("name", "")) for c in cohorts]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"every cohort needs a distinct non-empty 'name', got {names}")
    for cohort in cohorts:
        unknown = sorted(set(cohort) - {"name", "columns", "share", "shuffle"})
        if unknown:
            raise ValueError(f"cohort {cohort['name']!r} has unknown key(s) {unknown}; keys: name, columns, share, "
                             "shuffle")
        if not cohort.get("columns"):
            raise ValueError(f"cohort {cohort['name']!r} lists no columns")
        if not float(cohort.get("share", 1.0)) > 0:
            raise ValueError(f"cohort {cohort['name']!r}: share must be > 0, got {cohort.get('share')!r}")


def split_cohorts(records: Sequence[Mapping[str, Any]], cohorts: Sequence[Mapping[str, Any]], *,
                  seed: int = 0) -> list[dict[str, Any]]:
    """Assign each record to one cohort (disjoint subjects, seeded, in proportion to each cohort's ``share``) and
    tag it with ``"cohort"``.

    A cohort is ``{"name": str, "columns": [names or fnmatch patterns such as "roi_*"], "share": float (default
    1), "shuffle": bool (default True: its columns in a seeded random order)}``.

    Example:
        >>> tagged = split_cohorts(records, [{"name": "a", "columns": ["age"]},
        ...                                  {"name": "b", "columns": ["roi_*"]}])   # doctest: +SKIP
    """
    _check_cohorts(cohorts)
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    shares = np.array([float(c.get("share", 1.0)) for c in cohorts])
    bounds = np.round(np.cumsum(shares) / shares.sum() * len(order)).astype(int)
    tagged: list[dict[str, Any]] = [dict(r) for r in records]
    start = 0
    for cohort, stop in zip(cohorts, bounds):
        for i in order[start:stop]:
            tagged[i]["cohort"] = str(cohort["name"])
        start = stop
    return tagged


def fit_cohort_schemas(records: Sequence[Mapping[str, Any]], schema: TableSchema,
                       cohorts: Sequence[Mapping[str, Any]], *, seed: int = 0) -> dict[str, TableSchema]:
    """One schema per cohort: its columns (a subset of ``schema``'s features, in the cohort's order, shuffled when
    ``shuffle``), fitted on the raw table rows of that cohort's records only (no label: pretraining is label-free).

    Example:
        >>> schemas = fit_cohort_schemas(tagged, fold_schema, cohorts)   # doctest: +SKIP
    """
    _check_cohorts(cohorts)
    available = [n for n in schema.features if schema[n].role != "text"]
    schemas: dict[str, TableSchema] = {}
    for number, cohort in enumerate(cohorts):
        name = str(cohort["name"])
        columns = _expand_columns(list(cohort["columns"]), available, name)
        if cohort.get("shuffle", True):
            random.Random(f"{seed}:{name}").shuffle(columns)
        rows = [r["table"] for r in records if r.get("cohort") == name]
        if not rows:
            raise ValueError(f"cohort {name!r} has no subjects: raise its share or add subjects")
        parts = [ColumnSchema(name=c, role=schema[c].role, description=schema[c].description, unit=schema[c].unit,
                              template=schema[c].template) for c in columns]
        cohort_schema = TableSchema(parts, task=None, source={"cohort": name, "columns": columns})
        frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
        schemas[name] = cohort_schema.fit(frame.astype(object).where(frame.notna(), None))
        _headers(schemas[name])  # an empty or duplicated header fails here, naming the columns
    return schemas


@dataclass
class CrossTableData:
    """What a cross-table pretraining run needs: tagged training records, one schema per cohort, the header
    vocabulary, and the image facts of the fold it was made from.

    Example:
        >>> data = prepare_cross_table(records=fold.train, schema=fold.schema, cohorts=plan)   # doctest: +SKIP
        >>> len(data.header_texts), sorted(data.schemas)                                      # doctest: +SKIP
    """

    train: list[dict[str, Any]]
    schemas: dict[str, TableSchema]
    header_texts: list[str]

    @property
    def max_columns(self) -> int:
        """The most cells a row of any cohort has."""
        return max(len(_headers(s)) for s in self.schemas.values())

    def save(self, folder: str | Path) -> Path:
        """Write each cohort's schema as ``<folder>/cohort_<name>.json`` and the vocabulary as
        ``header_texts.json``; returns the folder."""
        import json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, schema in self.schemas.items():
            schema.save(folder / f"cohort_{name}.json", overwrite=True)
        (folder / "header_texts.json").write_text(json.dumps(self.header_texts, indent=1) + "\n")
        counts = {name: sum(r.get("cohort") == name for r in self.train) for name in self.schemas}
        (folder / "cohorts.json").write_text(json.dumps(
            {name: {"subjects": counts[name], "columns": s.source.get("columns")} for name, s in self.schemas.items()},
            indent=1) + "\n")
        return folder


def prepare_cross_table(*, records: Sequence[Mapping[str, Any]], schema: TableSchema,
                        cohorts: Sequence[Mapping[str, Any]], seed: int = 0,
                        extra_schemas: Sequence[TableSchema] = ()) -> CrossTableData:
    """Split ``records`` (with raw ``table`` rows, as ``build_datalist`` writes them) into cohorts, fit a schema
    per cohort and build the header vocabulary (plus the texts of ``extra_schemas``, e.g. a fine-tuning table's).

    Example:
        >>> data = prepare_cross_table(records=fold.train + fold.val, schema=fold.schema,
        ...                            cohorts=[{"name": "clinical", "columns": ["age", "height_cm"]},
        ...                                     {"name": "mri", "columns": ["roi_70*"]}])   # doctest: +SKIP
    """
    tagged = split_cohorts(records, cohorts, seed=seed)
    schemas = fit_cohort_schemas(tagged, schema, cohorts, seed=seed)
    vocabulary = header_vocabulary(list(schemas.values()) + list(extra_schemas))
    for name, cohort_schema in schemas.items():
        logger.info("cohort %s: %d subjects, columns %s", name, sum(r.get("cohort") == name for r in tagged),
                    cohort_schema.source.get("columns"))
    return CrossTableData(train=tagged, schemas=schemas, header_texts=vocabulary)


def label_subset(records: Sequence[Mapping[str, Any]], *, fraction: float = 1.0, seed: int = 0,
                 label_key: str = "label") -> list[dict[str, Any]]:
    """A seeded, class-stratified ``fraction`` of ``records`` (at least one per class), in the original order.

    Example:
        >>> rows = [{"label": "a"}] * 10 + [{"label": "b"}] * 10
        >>> len(label_subset(rows, fraction=0.2))
        4
    """
    fraction = float(fraction)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1.0:
        return [dict(r) for r in records]
    by_class: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        by_class.setdefault(str(record.get(label_key)), []).append(i)
    rng = random.Random(seed)
    keep: set[int] = set()
    for _, indices in sorted(by_class.items()):
        keep.update(rng.sample(indices, max(1, int(round(fraction * len(indices))))))
    return [dict(records[i]) for i in sorted(keep)]


class CachedImages(Sequence):
    """The records with their images preprocessed once and kept on disk (MONAI ``PersistentDataset`` over the image
    paths only), so runs of several folds, rows and stages share one image cache while the table cells, labels and
    cohorts always come from the current records. ``cache_dir`` must be specific to the image preprocessing (e.g.
    a folder per input size); ``None`` preprocesses in memory.

    Example:
        >>> data = CachedImages(records, transform=image_pipeline, cache_dir="/tmp/cache/60x60x45")   # doctest: +SKIP
        >>> data[0]["image"].shape                                                                  # doctest: +SKIP
    """

    def __init__(self, records: Sequence[Mapping[str, Any]], *, transform: Any, cache_dir: str | Path | None = None,
                 image_key: str = "image") -> None:
        from monai.data import Dataset, PersistentDataset

        self.records, self.image_key = list(records), image_key
        images = [{image_key: r[image_key]} for r in self.records]
        self.images = PersistentDataset(images, transform=transform, cache_dir=cache_dir) if cache_dir else \
            Dataset(images, transform=transform)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        return {**self.records[index], **self.images[index]}
