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
"""Table schema: which column plays which role, and the statistics fit on the training split.

A :class:`TableSchema` is made from a table (CSV or DataFrame) and an optional spec, with every role the spec
leaves out inferred and printed for review; :meth:`TableSchema.fit` learns, on the training split only,
robust numerical centre/scale, categorical vocabularies (index 0 reserved for unknown), missing rates, each
column's empirical marginal (for corruption) and label classes. The fitted schema is saved as JSON next to
the model so that inference uses exactly the training statistics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import string
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monai_tabular.data.errors import SchemaError, TableDataError, combine_errors
from monai_tabular.data.table import describe_rows, is_missing, missing_mask, read_table, source_of

__all__ = ["ROLES", "FEATURE_ROLES", "TASKS", "ColumnSchema", "TableSchema", "canonical_category", "humanize"]

logger = logging.getLogger(__name__)

ROLES = ("subject_id", "label", "image", "numerical", "categorical", "text", "ignore")
FEATURE_ROLES = ("numerical", "categorical", "text")
TASKS = ("classification", "regression", "survival")
SURVIVAL_CUTS = 10  # intervals of the discrete-time survival model, at event-time quantiles
SCHEMA_FORMAT = "monai_tabular.schema"
SCHEMA_VERSION = 1
DEFAULT_TEMPLATE = "The {column} is {value}."
TEMPLATE_FIELDS = ("column", "value", "unit", "name")
UNKNOWN_INDEX = 0

_ID_NAMES = ("subject_id", "subject", "subjectid", "participant_id", "patient_id", "case_id", "id", "mrid", "eid")
_IMAGE_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".mha", ".mhd", ".nrrd", ".png", ".jpg", ".jpeg", ".tif", ".tiff",
                   ".bmp", ".dcm")
_CODE_SUFFIXES = ("_id", "_code", "_type", "_class", "_cat", "_group")
_UNITS = {"cm": "cm", "mm": "mm", "m": "m", "kg": "kg", "g": "g", "years": "years", "yrs": "years", "yr": "years",
          "y": "years", "mm3": "mm^3", "ml": "mL", "pct": "%", "percent": "%", "bpm": "bpm", "mmhg": "mmHg",
          "days": "days", "months": "months", "mg": "mg", "l": "L"}


def humanize(name: str) -> tuple[str, str | None]:
    """Split a column header into a readable description and a unit.

    Example:
        >>> humanize("height_cm")
        ('height', 'cm')
    """
    tokens = [t for t in re.split(r"[_\-\s.]+", str(name).strip()) if t]
    unit = None
    if len(tokens) > 1 and tokens[-1].lower() in _UNITS:
        unit = _UNITS[tokens.pop().lower()]
    text = " ".join(tokens) if tokens else str(name)
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text).lower() if text.isascii() else text
    return text, unit


def canonical_category(value: Any) -> str | None:
    """Canonical text of a categorical cell: stripped, integral numbers without ``.0``; ``None`` if missing.

    Example:
        >>> canonical_category(" 2.0 "), canonical_category("M"), canonical_category(float("nan"))
        ('2', 'M', None)
    """
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number.is_integer() and re.fullmatch(r"[+-]?\d+(\.0*)?", text):
        return str(int(number))
    return text


def _template_fields(template: str, column: str) -> list[str]:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise SchemaError(f"malformed sentence template {template!r}: {exc}", column=column) from None
    unknown = sorted({n for n in names if n not in TEMPLATE_FIELDS})
    if unknown:
        raise SchemaError(
            f"sentence template {template!r} names unknown field(s) {unknown}; allowed: {list(TEMPLATE_FIELDS)}",
            column=column,
        )
    return names


@dataclass
class ColumnSchema:
    """One column: its role, its human-readable description and (once fit) its training statistics.

    Categorical index ``0`` is reserved for unknown categories; ``categories[i]`` has index ``i + 1``.
    ``marginal`` holds the observed training values of a numerical column (or, above ``max_marginal`` values,
    evenly spaced quantiles of them), from which corruption draws.
    """

    name: str
    role: str
    description: str = ""
    unit: str | None = None
    template: str | None = None
    inferred: bool = False
    missing_rate: float | None = None
    n_observed: int | None = None
    center: float | None = None
    scale: float | None = None
    categories: list[str] | None = None
    counts: list[int] | None = None
    marginal: list[float] | None = None
    corruptible: bool | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise SchemaError(f"unknown role {self.role!r}; roles are {list(ROLES)}", column=self.name)
        if not self.description:
            self.description, unit = humanize(self.name)
            self.unit = self.unit or unit
        if self.template is not None:
            _template_fields(self.template, self.name)

    @property
    def cardinality(self) -> int:
        """Number of categorical indices including the reserved unknown index 0."""
        return len(self.categories or []) + 1

    def category_index(self, value: Any) -> int | None:
        """Index of a categorical value: ``None`` if missing, ``0`` if unseen in training."""
        key = canonical_category(value)
        if key is None:
            return None
        lookup = self.__dict__.get("_lookup")
        if lookup is None:
            lookup = {c: i + 1 for i, c in enumerate(self.categories or [])}
            self.__dict__["_lookup"] = lookup
        return lookup.get(key, UNKNOWN_INDEX)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class TableSchema:
    """Roles and training statistics of a table's columns.

    Args:
        columns: one :class:`ColumnSchema` per column of the table (ignored columns included).
        task: ``"classification"``, ``"regression"`` or ``"survival"`` (for the label columns).
        label_classes: per label column, the sorted classes seen when fitting (classification).
        label_stats: per label column, ``{"mean": .., "std": ..}`` (regression; survival: of the time column,
            plus ``"cuts"``, interval edges at event-time quantiles for discrete-time models).
        survival: ``{"time": column, "event": column}`` (survival task).
        source: where the schema was made: file name, all column names, number of rows fit on.

    Example:
        >>> schema = TableSchema.from_table("cohort.csv", spec={"label": "label"})   # doctest: +SKIP
        >>> print(schema.describe())                                                # doctest: +SKIP
        >>> schema.fit(train_rows).save("model/schema.json")                        # doctest: +SKIP
    """

    def __init__(
        self,
        columns: Sequence[ColumnSchema],
        *,
        task: str | None = "classification",
        label_classes: Mapping[str, Sequence[str]] | None = None,
        label_stats: Mapping[str, Mapping[str, float]] | None = None,
        source: Mapping[str, Any] | None = None,
        survival: Mapping[str, str] | None = None,
    ) -> None:
        if task is not None and task not in TASKS:
            raise SchemaError(f"unknown task {task!r}; tasks are {list(TASKS)}")
        self.survival = dict(survival) if survival else None
        if task == "survival":
            if not self.survival or set(self.survival) != {"time", "event"}:
                raise SchemaError("a survival task needs a time column and an event column: give 'time' and "
                                  "'event' in the spec, e.g. {'task': 'survival', 'time': 'months', "
                                  "'event': 'died'}")
            given = {c.name: c.role for c in columns}
            for key, name in self.survival.items():
                if given.get(name) != "label":
                    raise SchemaError(f"survival {key} column {name!r} is not a label column of the schema",
                                      column=name)
        elif self.survival:
            raise SchemaError(f"'time'/'event' columns {self.survival} need task 'survival', got task {task!r}")
        names = [c.name for c in columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SchemaError(f"duplicated column name(s) {dupes}")
        ids = [c.name for c in columns if c.role == "subject_id"]
        if len(ids) > 1:
            raise SchemaError(f"more than one subject id column: {ids}")
        self.columns = list(columns)
        self._by_name = {c.name: c for c in self.columns}
        self.task = task
        self.label_classes = {k: list(v) for k, v in (label_classes or {}).items()}
        self.label_stats = {k: dict(v) for k, v in (label_stats or {}).items()}
        self.source = dict(source or {})

    # ------------------------------------------------------------------ roles
    def __getitem__(self, name: str) -> ColumnSchema:
        column = self._by_name.get(name)
        if column is not None:
            return column
        raise SchemaError(f"no column {name!r} in the schema; it has {self.column_names}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def names(self, role: str) -> list[str]:
        """Column names with the given role, in table order."""
        if role not in ROLES:
            raise SchemaError(f"unknown role {role!r}; roles are {list(ROLES)}")
        return [c.name for c in self.columns if c.role == role]

    @property
    def subject_id(self) -> str | None:
        ids = self.names("subject_id")
        return ids[0] if ids else None

    @property
    def labels(self) -> list[str]:
        if getattr(self, "survival", None):  # time first: it is the label a data list carries as "label"
            return [self.survival["time"], self.survival["event"]]
        return self.names("label")

    @property
    def images(self) -> list[str]:
        return self.names("image")

    @property
    def numerical(self) -> list[str]:
        return self.names("numerical")

    @property
    def categorical(self) -> list[str]:
        return self.names("categorical")

    @property
    def text(self) -> list[str]:
        return self.names("text")

    @property
    def features(self) -> list[str]:
        """Feature columns (numerical, categorical, text) in table order."""
        return [c.name for c in self.columns if c.role in FEATURE_ROLES]

    @property
    def cardinalities(self) -> list[int]:
        """Embedding sizes of the categorical columns (unknown index included)."""
        self._require_fitted("cardinalities")
        return [self[n].cardinality for n in self.categorical]

    @property
    def num_classes(self) -> int | None:
        """Number of classes of the first label column (classification), else ``None``."""
        if self.task != "classification" or not self.labels or self.labels[0] not in self.label_classes:
            return None
        return len(self.label_classes[self.labels[0]])

    @property
    def is_fitted(self) -> bool:
        return all(self[n].missing_rate is not None for n in self.features)

    def _require_fitted(self, what: str) -> None:
        if not self.is_fitted:
            raise SchemaError(f"{what} needs a fitted schema: call schema.fit(training_rows) first")

    # ------------------------------------------------------------------ building
    @classmethod
    def from_table(
        cls,
        table: pd.DataFrame | str | Path,
        spec: Mapping[str, Any] | str | Path | None = None,
        *,
        max_categories: int = 50,
        max_code_levels: int = 5,
    ) -> TableSchema:
        """Make an (unfitted) schema: roles from ``spec``, the rest inferred from the table's values.

        The spec may name ``subject_id``, ``label`` (one or a list), ``task``, ``image`` / ``numerical`` /
        ``categorical`` / ``text`` / ``ignore`` (lists of columns), ``classes`` (label classes in index order,
        e.g. ``["control", "case"]`` so that "case" is the positive class), per-column details under ``columns``
        (``role``, ``description``, ``unit``, ``template``), and ``infer`` (default ``True``; ``False``
        ignores every column the spec does not name).

        Args:
            table: CSV path or DataFrame (read with :func:`monai_tabular.data.table.read_table`).
            spec: dict or JSON file path.
            max_categories: a text column with at most this many distinct values is categorical.
            max_code_levels: a column of integers with at most this many levels is categorical.

        Example:
            >>> TableSchema.from_table("cohort.csv", {"label": "label", "ignore": ["notes"]})  # doctest: +SKIP
        """
        frame = read_table(table)
        spec = _load_spec(spec)
        file = source_of(frame)
        roles: dict[str, str] = {}
        details: dict[str, dict] = {}

        def assign(name: str, role: str) -> None:
            if name not in frame.columns:
                hint = _closest(name, list(frame.columns))
                raise SchemaError(
                    f"the spec names column {name!r} ({role}) but the table has no such column{hint}; "
                    f"columns: {list(frame.columns)}",
                    file=file,
                    column=name,
                )
            if name in roles and roles[name] != role:
                raise SchemaError(f"column {name!r} is given two roles: {roles[name]!r} and {role!r}",
                                  file=file, column=name)
            roles[name] = role

        known_keys = {"subject_id", "label", "labels", "task", "classes", "image", "images", "columns", "infer",
                      "time", "event", *ROLES}
        unknown_keys = sorted(set(spec) - known_keys)
        if unknown_keys:
            raise SchemaError(f"unknown spec key(s) {unknown_keys}; known: {sorted(known_keys)}", file=file)
        for key, role in (("subject_id", "subject_id"), ("label", "label"), ("labels", "label"),
                          ("time", "label"), ("event", "label"),
                          ("image", "image"), ("images", "image"), ("numerical", "numerical"),
                          ("categorical", "categorical"), ("text", "text"), ("ignore", "ignore")):
            for name in _as_list(spec.get(key)):
                assign(name, role)
        for name, detail in (spec.get("columns") or {}).items():
            detail = dict(detail)
            if "role" in detail:
                assign(name, detail.pop("role"))
            elif name not in frame.columns:
                assign(name, "ignore")  # raises with the list of columns
            allowed = {"description", "unit", "template"}
            if set(detail) - allowed:
                raise SchemaError(f"unknown column detail(s) {sorted(set(detail) - allowed)}; allowed: "
                                  f"{sorted(allowed | {'role'})}", file=file, column=name)
            details[name] = detail
        infer = bool(spec.get("infer", True))
        if "subject_id" not in roles.values() and infer:
            guess = _guess_subject_id(frame, set(roles))
            if guess is not None:
                roles[guess] = "subject_id"
                details.setdefault(guess, {})["_inferred"] = True
        columns = []
        for name in frame.columns:
            inferred = name not in roles or details.get(name, {}).get("_inferred", False)
            if name in roles:
                role = roles[name]
            elif infer:
                role = _infer_role(frame[name], name, max_categories=max_categories, max_code_levels=max_code_levels)
            else:
                role = "ignore"
            detail = {k: v for k, v in details.get(name, {}).items() if not k.startswith("_")}
            columns.append(ColumnSchema(name=name, role=role, inferred=inferred, **detail))
        task = spec.get("task", "classification")
        labels = [c.name for c in columns if c.role == "label"]
        classes = spec.get("classes")
        if classes is not None and not isinstance(classes, Mapping):
            if len(labels) != 1:
                raise SchemaError(f"'classes' as a list needs exactly one label column, the spec has {labels}; "
                                  "give a mapping label column -> classes", file=file)
            classes = {labels[0]: classes}
        for name, values in (classes or {}).items():
            if name not in labels:
                raise SchemaError(f"'classes' names {name!r}, which is not a label column ({labels})", file=file)
            values = [canonical_category(v) for v in values]
            if len(set(values)) != len(values) or None in values:
                raise SchemaError(f"'classes' of {name!r} must be distinct, non-empty values: {values}", file=file)
        declared = {k: [canonical_category(v) for v in vs] for k, vs in (classes or {}).items()}
        source = {"file": Path(file).name if file else None, "columns": list(frame.columns)}
        if declared:
            source["declared_classes"] = declared
        survival = {k: spec[k] for k in ("time", "event") if spec.get(k)} or None
        if task == "survival" and (not survival or len(survival) != 2):
            raise SchemaError("a survival task needs 'time' and 'event' columns in the spec (e.g. {'task': "
                              "'survival', 'time': 'months', 'event': 'died'}); the spec gives "
                              f"{survival or 'neither'}", file=file)
        schema = cls(columns, task=task, source=source, label_classes=declared, survival=survival)
        if infer:
            for column in schema.columns:
                if column.inferred:
                    logger.info("column %r inferred as %s", column.name, column.role)
        return schema

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        table: pd.DataFrame | str | Path,
        *,
        max_marginal: int = 1000,
        min_category_count: int = 1,
    ) -> TableSchema:
        """Learn the statistics from the training split (never validation or test rows). Returns ``self``.

        Numerical: centre = median and scale = IQR / 1.349 (a robust standard deviation; the plain standard
        deviation where the IQR is 0, and 1 for a constant column), all ignoring missing cells. Categorical:
        the vocabulary (values seen at least ``min_category_count`` times; rarer ones map to unknown).
        Every feature: missing rate, observed count and empirical marginal. Labels: classes (in the order the
        spec's ``classes`` declares, else sorted; the last class is the positive one of a binary task) or
        mean/std.

        Example:
            >>> schema.fit(train_frame)   # doctest: +SKIP
        """
        frame = read_table(table)
        file = source_of(frame)
        self.check_columns(frame, require_labels=bool(self.labels))
        problems = self.find_problems(frame, require_labels=bool(self.labels))
        if problems:
            raise combine_errors(problems)
        n = len(frame)
        if n == 0:
            raise TableDataError("cannot fit a schema on an empty table", file=file)
        for name in self.features:
            column = self[name]
            values = frame[name]
            observed = values[~values.pipe(missing_mask)]
            column.n_observed = int(len(observed))
            column.missing_rate = float(1.0 - len(observed) / n)
            if column.role == "numerical":
                numbers = pd.to_numeric(observed).to_numpy(dtype=np.float64)
                q25, median, q75 = np.percentile(numbers, [25, 50, 75])
                scale = (q75 - q25) / 1.349
                if not scale > 0:
                    scale = float(np.std(numbers))
                if not scale > 0:
                    scale = 1.0
                column.center, column.scale = float(median), float(scale)
                column.marginal = _marginal(numbers, max_marginal)
                column.corruptible = bool(np.unique(numbers).size > 1)
            elif column.role == "categorical":
                counts = observed.map(canonical_category).value_counts()
                kept = sorted(str(c) for c, k in counts.items() if k >= min_category_count)
                column.categories = kept
                column.counts = [int(counts[c]) for c in kept]
                column.__dict__.pop("_lookup", None)
                column.corruptible = len(kept) > 1
            else:
                column.corruptible = False
            if column.role != "text" and not column.corruptible:
                warnings.warn(
                    f"column {name!r} has a single observed value in the training split; it carries no "
                    "information and cannot be corrupted meaningfully", stacklevel=2)
        for name in self.labels:
            values = frame[name]
            if self.task == "classification":
                seen = sorted({canonical_category(v) for v in values})
                declared = self.source.get("declared_classes", {}).get(name)
                if declared:
                    unexpected = [v for v in seen if v not in declared]
                    if unexpected:
                        raise TableDataError(f"label values {unexpected} are not among the declared classes "
                                             f"{declared}", file=file, column=name)
                    absent = [v for v in declared if v not in seen]
                    if absent:
                        warnings.warn(f"declared class(es) {absent} of label {name!r} do not occur in the "
                                      "training split", stacklevel=2)
                self.label_classes[name] = list(declared) if declared else seen
                if len(seen) < 2:
                    raise TableDataError(f"label has a single class {seen} in the training split",
                                         file=file, column=name)
            elif self.task == "survival" and name == self.survival["event"]:
                if not (_event_values(values) == 1).any():
                    raise TableDataError("the training split has no events (every subject censored): a survival "
                                         "model cannot be fit", file=file, column=name)
            else:
                numbers = pd.to_numeric(values).to_numpy(dtype=np.float64)
                std = float(np.std(numbers))
                self.label_stats[name] = {"mean": float(np.mean(numbers)), "std": std if std > 0 else 1.0}
                if self.task == "survival":
                    events = numbers[_event_values(frame[self.survival["event"]]) == 1]
                    if events.size == 0:
                        raise TableDataError("the training split has no events (every subject censored): a "
                                             "survival model cannot be fit", file=file,
                                             column=self.survival["event"])
                    inner = np.unique(np.quantile(events, np.linspace(0, 1, SURVIVAL_CUTS + 1)[1:-1]))
                    upper = max(float(numbers.max()), float(inner[-1]) if inner.size else 0.0) + 1e-6
                    cuts = [0.0] + [float(c) for c in inner if 0.0 < c < upper] + [upper]
                    self.label_stats[name]["cuts"] = cuts
        self.source.update({"n_rows_fit": n, "fingerprint": _fingerprint(frame, self.subject_id)})
        return self

    # ------------------------------------------------------------------ checking
    def check_columns(self, table: pd.DataFrame, *, require_labels: bool = True) -> None:
        """Raise :class:`SchemaError` if the table lacks columns this schema needs (names them).

        Extra columns are ignored with a warning. A table sharing no feature column with the schema is
        reported as "a schema from another table".
        """
        file = source_of(table)
        present = set(table.columns)
        needed = [c.name for c in self.columns if c.role in FEATURE_ROLES + ("subject_id", "image")]
        if require_labels:
            needed += self.labels
        missing = [n for n in needed if n not in present]
        if missing:
            origin = self.source.get("file") or "another table"
            features = self.features
            if features and not any(n in present for n in features):
                message = (f"this schema was made from {origin!r} and fits another table: none of its feature "
                           f"columns {features} are present")
            else:
                hints = "".join(_closest(n, sorted(present - set(self.column_names))) for n in missing)
                message = f"the table lacks column(s) {missing} that the schema (from {origin!r}) needs{hints}"
            raise SchemaError(f"{message}; the table has {list(table.columns)}", file=file, column=missing[0])
        extra = sorted(present - set(self.column_names))
        if extra:
            warnings.warn(f"columns {extra} of {file or 'the table'} are not in the schema and are ignored",
                          stacklevel=2)

    def find_problems(self, table: pd.DataFrame | str | Path, *, require_labels: bool = True) -> list[TableDataError]:
        """Every bad-input problem of the table's values, as errors naming column and CSV lines (no raise)."""
        frame = read_table(table)
        file = source_of(frame)
        problems: list[TableDataError] = []
        sid = self.subject_id
        if sid is not None and sid in frame.columns:
            ids = frame[sid]
            empty = ids.pipe(missing_mask)
            if empty.any():
                problems.append(TableDataError("empty subject id", file=file, column=sid,
                                               rows=describe_rows(frame, empty)))
            dup = ids.duplicated(keep=False) & ~empty
            if dup.any():
                names = sorted(set(ids[dup]))
                problems.append(TableDataError(f"duplicate subject id(s) {names[:10]}", file=file, column=sid,
                                               rows=describe_rows(frame, dup)))
        if require_labels:
            for name in self.labels:
                if name not in frame.columns:
                    continue
                empty = frame[name].pipe(missing_mask)
                if empty.any():
                    problems.append(TableDataError("label is empty (NaN) for some rows: fill or drop them",
                                                   file=file, column=name, rows=describe_rows(frame, empty)))
                if self.task == "regression":
                    problems.extend(_non_numeric(frame, name, file, role="regression label"))
                if self.task == "survival":
                    problems.extend(_survival_problems(frame, name, file, is_event=name == self.survival["event"]))
        for name in self.features:
            if name not in frame.columns:
                continue
            values = frame[name]
            if len(values) and values.pipe(missing_mask).all():
                problems.append(TableDataError(
                    "column is empty in every row: drop it or give it role 'ignore' in the spec",
                    file=file, column=name))
                continue
            if self[name].role == "numerical":
                problems.extend(_non_numeric(frame, name, file, role="numerical column"))
        return problems

    def validate(self, table: pd.DataFrame | str | Path, *, require_labels: bool = True) -> pd.DataFrame:
        """Check columns and values; raise one error listing every problem, else return the table."""
        frame = read_table(table)
        self.check_columns(frame, require_labels=require_labels)
        problems = self.find_problems(frame, require_labels=require_labels)
        if problems:
            raise combine_errors(problems)
        return frame

    # ------------------------------------------------------------------ encoding
    def row_values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The feature cells of a row in canonical form: float / canonical str / str, ``None`` if missing."""
        out: dict[str, Any] = {}
        for column in self.columns:
            if column.role not in FEATURE_ROLES:
                continue
            name, role = column.name, column.role
            value = row.get(name)
            if is_missing(value):
                out[name] = None
            elif role == "numerical":
                out[name] = _to_float(value, name)
            elif role == "categorical":
                out[name] = canonical_category(value)
            else:
                out[name] = str(value).strip()
        return out

    def canonical_columns(self, table: pd.DataFrame) -> dict[str, list[Any]]:
        """Vectorised :meth:`row_values` over a whole table: column -> list of canonical cells."""
        out: dict[str, list[Any]] = {}
        for name in self.features:
            values = table[name]
            missing = missing_mask(values).to_numpy()
            role = self[name].role
            if role == "numerical":
                problems = _non_numeric(table, name, source_of(table), role="numerical column")
                if problems:
                    raise problems[0]
                numbers = pd.to_numeric(values.where(~missing)).to_numpy(dtype=np.float64)
                cells = [None if m else float(v) for v, m in zip(numbers, missing)]
            elif role == "categorical":
                lookup = {v: canonical_category(v) for v in pd.unique(values[~missing])}
                cells = [None if m else lookup[v] for v, m in zip(values, missing)]
            else:
                cells = [None if m else str(v).strip() for v, m in zip(values, missing)]
            out[name] = cells
        return out

    def encode_row(self, row: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Encode one row to ``numerical``/``numerical_mask`` (float32) and ``categorical``/``categorical_mask``.

        Missing cells get value 0 and mask 0 (never a value that looks observed); an unseen category gets the
        unknown index 0 with mask 1.

        Example:
            >>> schema.encode_row({"age": 61, "sex": "F", "site": None})   # doctest: +SKIP
        """
        self._require_fitted("encode_row")
        numerical = np.zeros(len(self.numerical), dtype=np.float32)
        numerical_mask = np.zeros(len(self.numerical), dtype=np.float32)
        for i, name in enumerate(self.numerical):
            value = row.get(name)
            if is_missing(value):
                continue
            column = self[name]
            numerical[i] = (_to_float(value, name) - column.center) / column.scale
            numerical_mask[i] = 1.0
        categorical = np.zeros(len(self.categorical), dtype=np.int64)
        categorical_mask = np.zeros(len(self.categorical), dtype=np.float32)
        for i, name in enumerate(self.categorical):
            index = self[name].category_index(row.get(name))
            if index is not None:
                categorical[i] = index
                categorical_mask[i] = 1.0
        return {"numerical": numerical, "numerical_mask": numerical_mask,
                "categorical": categorical, "categorical_mask": categorical_mask}

    def encode_frame(self, table: pd.DataFrame | str | Path) -> dict[str, np.ndarray]:
        """Encode every row of a table (vectorised): arrays of shape ``(n_rows, n_columns)``.

        Example:
            >>> arrays = schema.encode_frame(test_frame); arrays["numerical"].shape   # doctest: +SKIP
        """
        self._require_fitted("encode_frame")
        frame = read_table(table)
        absent = [name for name in self.features if name not in frame.columns]
        if absent:
            raise SchemaError(f"the table lacks feature column(s) {absent}; it has {list(frame.columns)}",
                              file=source_of(frame), column=absent[0])
        n = len(frame)
        numerical = np.zeros((n, len(self.numerical)), dtype=np.float32)
        numerical_mask = np.zeros_like(numerical)
        for i, name in enumerate(self.numerical):
            problems = _non_numeric(frame, name, source_of(frame), role="numerical column")
            if problems:
                raise problems[0]
            values = pd.to_numeric(frame[name].where(~frame[name].pipe(missing_mask))).to_numpy(dtype=np.float64)
            observed = ~np.isnan(values)
            column = self[name]
            numerical[observed, i] = (values[observed] - column.center) / column.scale
            numerical_mask[:, i] = observed
        categorical = np.zeros((n, len(self.categorical)), dtype=np.int64)
        categorical_mask = np.zeros((n, len(self.categorical)), dtype=np.float32)
        for i, name in enumerate(self.categorical):
            indices = frame[name].map(self[name].category_index)
            observed = indices.notna().to_numpy()
            categorical[observed, i] = indices[observed].astype(np.int64).to_numpy()
            categorical_mask[:, i] = observed
        return {"numerical": numerical, "numerical_mask": numerical_mask,
                "categorical": categorical, "categorical_mask": categorical_mask}

    def encode_label(self, value: Any, *, column: str | None = None) -> int | float:
        """Class index (classification) or standardised value (regression) of a label cell."""
        column = column or (self.labels[0] if self.labels else None)
        if column is None:
            raise SchemaError("the schema has no label column")
        if is_missing(value):
            raise TableDataError("label is empty", column=column)
        if self.task == "survival":
            if column == self.survival["event"]:
                return float(_event_values(pd.Series([value]))[0])
            return _to_float(value, column)
        if self.task == "classification":
            classes = self.label_classes.get(column)
            if classes is None:
                raise SchemaError("encode_label needs a fitted schema: call fit first", column=column)
            key = canonical_category(value)
            if key not in classes:
                raise TableDataError(f"label value {key!r} was not seen when the schema was fit; classes: "
                                     f"{classes}", column=column)
            return classes.index(key)
        stats = self.label_stats.get(column)
        if stats is None:
            raise SchemaError("encode_label needs a fitted schema: call fit first", column=column)
        return (_to_float(value, column) - stats["mean"]) / stats["std"]

    def decode_label(self, encoded: int | float, *, column: str | None = None) -> Any:
        """Inverse of :meth:`encode_label` (class name, or value in the original unit)."""
        column = column or self.labels[0]
        if self.task == "survival":
            return float(encoded)
        if self.task == "classification":
            return self.label_classes[column][int(encoded)]
        stats = self.label_stats[column]
        return float(encoded) * stats["std"] + stats["mean"]

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict:
        return {"format": SCHEMA_FORMAT, "version": SCHEMA_VERSION, "task": self.task,
                "label_classes": self.label_classes, "label_stats": self.label_stats, "source": self.source,
                "survival": self.survival,
                "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> TableSchema:
        if data.get("format") != SCHEMA_FORMAT:
            raise SchemaError(f"not a monai_tabular schema (format {data.get('format')!r}, expected "
                              f"{SCHEMA_FORMAT!r})", file=file)
        if int(data.get("version", 0)) > SCHEMA_VERSION:
            raise SchemaError(f"schema version {data.get('version')} is newer than this package supports "
                              f"({SCHEMA_VERSION}); upgrade monai-tabular", file=file)
        known = {f.name for f in fields(ColumnSchema)}
        columns = [ColumnSchema(**{k: v for k, v in c.items() if k in known}) for c in data["columns"]]
        return cls(columns, task=data.get("task"), label_classes=data.get("label_classes"),
                   label_stats=data.get("label_stats"), source=data.get("source"), survival=data.get("survival"))

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the schema as JSON (refuses to replace an existing file unless ``overwrite=True``)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> TableSchema:
        """Read a schema JSON written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"schema file {path} does not exist")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema file is not valid JSON: {exc}", file=str(path)) from None
        return cls.from_dict(data, file=str(path))

    def describe(self) -> str:
        """A table of columns, roles (``*`` = inferred), description/unit and fitted statistics, for review."""
        lines = [f"task: {self.task}; subject id: {self.subject_id}; labels: {self.labels}; images: {self.images}",
                 f"{'column':<28} {'role':<12} {'description':<30} statistics"]
        for c in self.columns:
            role = c.role + ("*" if c.inferred else "")
            desc = c.description + (f" ({c.unit})" if c.unit else "")
            stats = ""
            if c.missing_rate is not None:
                stats = f"missing {c.missing_rate:.0%}"
                if c.role == "numerical":
                    stats += f", centre {c.center:.4g}, scale {c.scale:.4g}"
                elif c.role == "categorical":
                    shown = ", ".join(c.categories[:6]) + (", ..." if len(c.categories) > 6 else "")
                    stats += f", {len(c.categories)} categories: {shown}"
            lines.append(f"{c.name:<28} {role:<12} {desc[:30]:<30} {stats}")
        for name, classes in self.label_classes.items():
            lines.append(f"label {name!r} classes: {classes}")
        lines.append("(* = inferred from the values; override in the spec)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"TableSchema(task={self.task!r}, labels={self.labels}, images={self.images}, "
                f"numerical={len(self.numerical)}, categorical={len(self.categorical)}, text={len(self.text)}, "
                f"fitted={self.is_fitted})")


# ---------------------------------------------------------------------- helpers
def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _load_spec(spec: Mapping[str, Any] | str | Path | None) -> dict:
    if spec is None:
        return {}
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"spec file {path} does not exist")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SchemaError(f"spec file is not valid JSON: {exc}", file=str(path)) from None
    return dict(spec)


def _closest(name: str, candidates: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _guess_subject_id(frame: pd.DataFrame, taken: set[str]) -> str | None:
    lowered = {str(c).lower(): c for c in frame.columns if c not in taken}
    for name in _ID_NAMES:
        column = lowered.get(name)
        if column is not None:
            values = frame[column]
            if not values.pipe(missing_mask).any() and values.is_unique:
                return column
    return None


def _infer_role(values: pd.Series, name: str, *, max_categories: int, max_code_levels: int) -> str:
    observed = values[~values.pipe(missing_mask)].astype(str).str.strip()
    if observed.empty:
        return "numerical"  # reported as an all-empty column by find_problems
    lowered = observed.str.lower()
    if lowered.str.endswith(_IMAGE_SUFFIXES).mean() > 0.9:
        return "image"
    numbers = pd.to_numeric(observed, errors="coerce")
    parsed = numbers.notna().mean()
    if parsed == 1.0:
        integral = bool(np.all(np.mod(numbers.to_numpy(dtype=np.float64), 1) == 0))
        levels = numbers.nunique()
        if integral and (levels <= max_code_levels or str(name).lower().endswith(_CODE_SUFFIXES)):
            return "categorical"
        return "numerical"
    if parsed >= 0.9:
        return "numerical"  # mostly numbers: the stray text cells are reported by find_problems
    levels = observed.nunique()
    if levels <= max_categories and levels < max(2, 0.5 * len(observed)) or levels <= 2:
        return "categorical"
    if observed.str.len().mean() >= 20:
        return "text"
    if levels > 0.9 * len(observed):
        warnings.warn(f"column {name!r} looks like an identifier ({levels} distinct short values); ignored. "
                      "Give it a role in the spec to use it.", stacklevel=3)
        return "ignore"
    return "categorical"


def _to_float(value: Any, column: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TableDataError(f"numerical column holds text {value!r}", column=column) from None
    if not math.isfinite(number):
        raise TableDataError(f"numerical column holds a non-finite value {value!r}", column=column)
    return number


def _non_numeric(frame: pd.DataFrame, name: str, file: str | None, *, role: str) -> list[TableDataError]:
    values = frame[name]
    present = ~values.pipe(missing_mask)
    numbers = pd.to_numeric(values.where(present), errors="coerce")
    bad = present & (numbers.isna() | ~np.isfinite(numbers.fillna(0.0).astype(float)))
    if not bad.any():
        return []
    examples = sorted({str(v) for v in values[bad]})[:5]
    return [TableDataError(f"{role} holds non-numeric value(s) {examples}: fix the cells or declare the column "
                           "categorical/text in the spec", file=file, column=name, rows=describe_rows(frame, bad))]


_EVENT_VALUES = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "false": 0.0, "true": 1.0}


def _event_values(values: pd.Series) -> np.ndarray:
    """Event cells as 0/1 floats (NaN for anything else: missing, 2, "yes" ...)."""
    return values.map(lambda v: _EVENT_VALUES.get(str(v).strip().lower(), np.nan)).to_numpy(dtype=np.float64)


def _survival_problems(frame: pd.DataFrame, name: str, file: str | None, *, is_event: bool) -> list[TableDataError]:
    values = frame[name]
    present = ~values.pipe(missing_mask)
    if is_event:
        bad = present & np.isnan(_event_values(values))
        if not bad.any():
            return []
        examples = sorted({str(v) for v in values[bad]})[:5]
        return [TableDataError(f"survival event column must hold 0 (censored) or 1 (event), got {examples}",
                               file=file, column=name, rows=describe_rows(frame, bad))]
    problems = _non_numeric(frame, name, file, role="survival time")
    if problems:
        return problems
    numbers = pd.to_numeric(values.where(present), errors="coerce")
    negative = present & (numbers < 0)
    if negative.any():
        examples = sorted({float(v) for v in numbers[negative]})[:5]
        problems.append(TableDataError(f"survival time must be >= 0, got {examples}", file=file, column=name,
                                       rows=describe_rows(frame, negative)))
    return problems


def _marginal(values: np.ndarray, max_size: int) -> list[float]:
    values = np.sort(values)
    if values.size > max_size:
        values = np.quantile(values, np.linspace(0.0, 1.0, max_size))
    return [float(v) for v in values]


def _fingerprint(frame: pd.DataFrame, subject_id: str | None) -> str:
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    if subject_id is not None and subject_id in frame.columns:
        digest.update("\x1f".join(sorted(map(str, frame[subject_id]))).encode())
    return digest.hexdigest()[:16]
