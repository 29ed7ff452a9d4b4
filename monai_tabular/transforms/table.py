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
"""MONAI dictionary transforms for table rows: encode, label, sentences, marginal corruption, attribute masking.

Each transform takes JSON-expressible arguments (the schema as a path to its JSON file, or a
:class:`~monai_tabular.data.TableSchema`), so it can be written in a bundle config and used in any
``monai.transforms.Compose`` next to ``LoadImaged``, ``Spacingd`` and ``RandFlipd``. ``EncodeTabled`` and
``EncodeLabeld`` are deterministic (``CacheDataset`` caches them); the random ones come after them.
"""

from __future__ import annotations

import string
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform

from monai_tabular.data.errors import SchemaError, TableDataError
from monai_tabular.data.schema import DEFAULT_TEMPLATE, TEMPLATE_FIELDS, TableSchema
from monai_tabular.data.table import is_missing
from monai_tabular.transforms.marginals import TableMarginals

__all__ = ["EncodeTabled", "EncodeLabeld", "AttributeSentencesd", "CorruptTabled", "RandMaskAttributesd",
           "load_schema", "format_value"]


def load_schema(schema: TableSchema | str | Path) -> TableSchema:
    """A fitted schema from an object or a JSON path (as written in bundle configs)."""
    schema = schema if isinstance(schema, TableSchema) else TableSchema.load(schema)
    if not schema.is_fitted:
        raise SchemaError("the transforms need a fitted schema: call schema.fit(training_rows) first")
    return schema


def _check_source(transform: MapTransform, data: Mapping) -> None:
    for key in transform.keys:
        if key not in data and not transform.allow_missing_keys:
            _raw_row(data, key, type(transform).__name__)


def _raw_row(data: Mapping, key: Hashable, transform: str) -> Mapping:
    if key not in data:
        raise KeyError(f"{transform}: the sample has no key {key!r} (the raw table row). Put {transform} before "
                       f"EncodeTabled, or create EncodeTabled with keep_source=True; keys present: {list(data)}")
    row = data[key]
    if not isinstance(row, Mapping):
        raise TypeError(f"{transform}: data[{key!r}] must be a mapping column -> value, got {type(row).__name__}")
    return row


class EncodeTabled(MapTransform):
    """Encode the raw table row at ``keys`` into ``numerical``, ``numerical_mask``, ``categorical``, ``categorical_mask``.

    Numerical cells are standardised with the training statistics; categorical cells become vocabulary indices
    (0 = unseen at training). A missing cell gets value 0 and mask 0, so it never looks observed. The raw row is
    removed afterwards (it holds ``None`` cells that ``default_collate`` cannot batch) unless ``keep_source``.

    Args:
        keys: the key of the raw row (default ``"table"``, as written by ``build_datalist``).
        schema: fitted :class:`TableSchema` or path to its JSON.
        prefix: prepended to the four output keys (e.g. ``"clinical_"`` for a second table).
        keep_source: keep the raw row in the sample.
        allow_missing_keys: skip samples without the key.

    Example:
        >>> from monai.transforms import Compose, LoadImaged, EnsureChannelFirstd
        >>> pipeline = Compose([LoadImaged("image"), EnsureChannelFirstd("image"),
        ...                     EncodeTabled("table", schema="model/schema.json")])   # doctest: +SKIP
    """

    def __init__(self, keys: KeysCollection = "table", *, schema: TableSchema | str | Path, prefix: str = "",
                 keep_source: bool = False, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.schema = load_schema(schema)
        self.prefix = prefix
        self.keep_source = keep_source

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        _check_source(self, d)
        for key in self.key_iterator(d):
            row = _raw_row(d, key, type(self).__name__)
            try:
                encoded = self.schema.encode_row(row)
            except TableDataError as exc:
                subject = d.get("subject_id")
                raise TableDataError(f"subject {subject!r}: {exc}", column=exc.column) from None
            for name, array in encoded.items():
                d[self.prefix + name] = torch.from_numpy(array)
            if not self.keep_source:
                del d[key]
        return d


class EncodeLabeld(MapTransform):
    """Label cell -> class index (``torch.long``), standardised value (``torch.float32``, regression), or
    ``(time, event)`` (``torch.float32`` (2,), survival: the time from the label key, the event from the record's
    event column).

    Args:
        keys: label key(s) (default ``"label"``).
        schema: fitted schema or path to its JSON.
        column: the schema's label column to encode with (default: its first label column).

    Example:
        >>> EncodeLabeld("label", schema=schema)({"label": "case"})["label"]   # doctest: +SKIP
        tensor(0)
    """

    def __init__(self, keys: KeysCollection = "label", *, schema: TableSchema | str | Path, column: str | None = None,
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.schema = load_schema(schema)
        self.column = column

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if self.schema.task == "survival" and self.column is None:
                event = self.schema.survival["event"]
                if event not in d:
                    raise KeyError(f"EncodeLabeld: a survival label needs the event column {event!r} in the "
                                   f"record; keys present: {sorted(map(str, d))}")
                d[key] = torch.tensor([self.schema.encode_label(d[key], column=self.schema.survival["time"]),
                                       self.schema.encode_label(d[event], column=event)], dtype=torch.float32)
                continue
            value = self.schema.encode_label(d[key], column=self.column)
            dtype = torch.long if self.schema.task == "classification" else torch.float32
            d[key] = torch.tensor(value, dtype=dtype)
        return d


def format_value(value: Any, *, role: str, unit: str | None = None, with_unit: bool = True) -> str:
    """Text of a cell for a sentence: numbers with up to 4 significant digits and their unit.

    Example:
        >>> format_value(175.0, role="numerical", unit="cm")
        '175 cm'
    """
    if role == "numerical":
        text = f"{float(value):.4g}"
        return f"{text} {unit}" if unit and with_unit else text
    return str(value)


class AttributeSentencesd(MapTransform):
    """Render each attribute of the raw row as a sentence, e.g. ``"The height is 175 cm."``.

    Templates use ``{column}`` (the column's description), ``{value}``, ``{unit}`` and ``{name}`` (the header).
    A column's own template (``ColumnSchema.template``) wins over ``template``; ``templates`` overrides both.
    A missing cell renders with ``missing_value`` (its own "unknown" sentence). Values never seen in training
    render like any other (that is the point of text). The output is a list of strings, one per attribute;
    ``default_collate`` batches it as ``[n_attributes][batch]``.

    Args:
        keys: the raw row key (default ``"table"``); put this transform before ``EncodeTabled``.
        schema: fitted schema or path to its JSON.
        template: default template.
        templates: per-column templates; a name that is not a feature column is an error at construction.
        columns: which attributes, in which order (default: every feature column).
        missing_value: text that replaces ``{value}`` for a missing cell.
        output_key: where the sentences go.

    Example:
        >>> AttributeSentencesd(schema=schema)({"table": {"age": 61.0, "sex": None}})["sentences"]  # doctest: +SKIP
        ['The age is 61 years.', 'The sex is unknown.']
    """

    def __init__(self, keys: KeysCollection = "table", *, schema: TableSchema | str | Path,
                 template: str = DEFAULT_TEMPLATE, templates: Mapping[str, str] | None = None,
                 columns: Sequence[str] | None = None, missing_value: str = "unknown",
                 output_key: str = "sentences", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.schema = load_schema(schema)
        features = self.schema.features
        self.columns = list(columns) if columns is not None else features
        unknown = [c for c in [*self.columns, *(templates or {})] if c not in features]
        if unknown:
            raise SchemaError(f"sentence template(s) or columns name unknown attribute(s) {sorted(set(unknown))}; "
                              f"the schema's attributes are {features}")
        self.templates = {}
        for name in self.columns:
            chosen = (templates or {}).get(name) or self.schema[name].template or template
            fields_used = [f for _, f, _, _ in string.Formatter().parse(chosen) if f is not None]
            bad = [f for f in fields_used if f not in TEMPLATE_FIELDS]
            if bad:
                raise SchemaError(f"template {chosen!r} names unknown field(s) {bad}; allowed {list(TEMPLATE_FIELDS)}",
                                  column=name)
            self.templates[name] = (chosen, "unit" in fields_used)
        self.missing_value = missing_value
        self.output_key = output_key

    def render(self, row: Mapping[str, Any]) -> list[str]:
        """Sentences of one raw row."""
        sentences = []
        for name in self.columns:
            column = self.schema[name]
            template, has_unit = self.templates[name]
            value = row.get(name)
            text = self.missing_value if is_missing(value) else format_value(
                value, role=column.role, unit=column.unit, with_unit=not has_unit)
            sentences.append(template.format(column=column.description, value=text, unit=column.unit or "",
                                             name=name))
        return sentences

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        _check_source(self, d)
        for key in self.key_iterator(d):
            d[self.output_key] = self.render(_raw_row(d, key, type(self).__name__))
        return d


def _check_rate(rate: float, name: str) -> float:
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {rate}")
    return rate


class CorruptTabled(RandomizableTransform, MapTransform):
    """Replace observed cells, each with probability ``rate``, by a draw from that column's training marginal.

    Works on the encoded tensors (after ``EncodeTabled``): numerical draws come from the column's observed
    training values (standardised), categorical draws from its training category frequencies, never zero or
    the mean. Missing cells are neither corrupted nor scored. Columns with a single observed training value are
    left out (with a warning naming them). Writes ``numerical_corruption`` / ``categorical_corruption`` (1 where
    corrupted) and, with ``keep_original``, ``numerical_original`` / ``categorical_original``.

    Args:
        keys: encoded keys to corrupt (default both ``"numerical"`` and ``"categorical"``).
        schema: fitted schema or path to its JSON.
        rate: per-cell corruption probability in [0, 1).
        prob: probability of applying the transform to a sample at all.
        keep_original: keep uncorrupted copies for reconstruction targets.

    Example:
        >>> corrupt = CorruptTabled(schema="schema.json", rate=0.3)   # doctest: +SKIP
        >>> corrupt.set_random_state(seed=0)                           # doctest: +SKIP
    """

    def __init__(self, keys: KeysCollection = ("numerical", "categorical"), *, schema: TableSchema | str | Path,
                 rate: float = 0.3, prob: float = 1.0, keep_original: bool = True,
                 allow_missing_keys: bool = False) -> None:
        RandomizableTransform.__init__(self, prob)
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.rate = _check_rate(rate, "rate")
        self.keep_original = keep_original
        self.marginals = TableMarginals.from_schema(load_schema(schema))
        for name in self.marginals.excluded:
            warnings.warn(f"column {name!r} has a single observed training value and is not corrupted",
                          stacklevel=2)
        self._generator = torch.Generator().manual_seed(0)

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        self._generator.manual_seed(int(self.R.randint(0, 2**31 - 1)))

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        for key in self.key_iterator(d):
            kind = "categorical" if "categorical" in str(key) else "numerical"
            values = torch.as_tensor(d[key])
            mask = torch.as_tensor(d[f"{key}_mask"]) if f"{key}_mask" in d else torch.ones(values.shape)
            if self.keep_original:
                d[f"{key}_original"] = values.clone()
            if self._do_transform and self.rate > 0:
                corrupted, flags = self.marginals.corrupt(values, mask, kind=kind, rate=self.rate,
                                                          generator=self._generator)
            else:
                corrupted, flags = values.clone(), torch.zeros(values.shape, dtype=torch.float32)
            d[key] = corrupted
            d[f"{key}_corruption"] = flags
        return d


class RandMaskAttributesd(RandomizableTransform, MapTransform):
    """Randomly hide observed attributes: their mask becomes 0 and their value 0, as if missing.

    Writes ``numerical_dropped`` / ``categorical_dropped`` (1 where hidden). Use it for attribute dropout or
    masked-attribute pretraining.

    Args:
        keys: encoded keys (default ``"numerical"`` and ``"categorical"``); each needs ``<key>_mask``.
        rate: per-cell probability in [0, 1).
        prob: probability of applying it to a sample.

    Example:
        >>> RandMaskAttributesd(rate=0.2).set_random_state(seed=0)   # doctest: +SKIP
    """

    def __init__(self, keys: KeysCollection = ("numerical", "categorical"), *, rate: float = 0.15, prob: float = 1.0,
                 allow_missing_keys: bool = False) -> None:
        RandomizableTransform.__init__(self, prob)
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.rate = _check_rate(rate, "rate")

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize(None)
        for key in self.key_iterator(d):
            if f"{key}_mask" not in d:
                raise KeyError(f"RandMaskAttributesd needs {key + '_mask'!r} next to {key!r}; run EncodeTabled first")
            values = torch.as_tensor(d[key])
            mask = torch.as_tensor(d[f"{key}_mask"])
            draw = self.R.random_sample(tuple(values.shape)) if self._do_transform else np.ones(tuple(values.shape))
            dropped = torch.as_tensor(draw < self.rate, dtype=torch.bool) & (mask > 0)
            d[key] = values.masked_fill(dropped, 0)
            d[f"{key}_mask"] = mask.masked_fill(dropped, 0)
            d[f"{key}_dropped"] = dropped.to(torch.float32)
        return d
