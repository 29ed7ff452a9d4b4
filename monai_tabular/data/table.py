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
"""Reading tables: every cell as text, missing cells as NaN, the CSV line kept as the index for messages."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monai_tabular.data.errors import TableDataError

__all__ = ["read_table", "is_missing", "missing_mask", "describe_rows", "source_of", "LINE_INDEX"]

LINE_INDEX = "csv_line"
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none", "?", "-")
_MISSING_VARIANTS = sorted({v for t in MISSING_TOKENS for v in (t, t.upper(), t.title(), " ", "  ")} | {"NaN", "N/A"})


def is_missing(value: Any) -> bool:
    """Whether a cell is missing: ``None``, NaN/NA, or an empty / placeholder string.

    Example:
        >>> [is_missing(v) for v in (None, float("nan"), " ", "NA", "0", 0)]
        [True, True, True, True, False, False]
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip().lower() in MISSING_TOKENS
    return False


def missing_mask(values: pd.Series) -> pd.Series:
    """Vectorised :func:`is_missing` over a column (boolean Series, same index).

    Example:
        >>> missing_mask(pd.Series(["1", None, "NA", "x"])).tolist()
        [False, True, True, False]
    """
    na = values.isna()
    if values.attrs.get("cleaned") or pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return na
    return na | values.isin(_MISSING_VARIANTS)


def read_table(table: pd.DataFrame | str | Path, *, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV with every cell as stripped text; missing cells become NaN.

    The index holds the CSV line of each row (header = line 1) so that any error, even on a subset of rows,
    names the line to fix. A DataFrame is returned unchanged (its index labels name the rows). Empty or
    duplicated headers are refused (pandas would silently rename them).

    Args:
        table: path of a ``.csv``/``.tsv`` file, or a DataFrame.
        sep: field separator; default ``","`` (``"\\t"`` for ``.tsv``).

    Example:
        >>> frame = read_table("cohort.csv")   # doctest: +SKIP
        >>> frame.loc[2]                        # the first data row (CSV line 2)   # doctest: +SKIP
    """
    if isinstance(table, pd.DataFrame):
        return table
    path = Path(table)
    if not path.is_file():
        raise FileNotFoundError(f"table file {path} does not exist")
    sep = sep or ("\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle, delimiter=sep), None)
    if not header:
        raise TableDataError("the table is empty (no header line)", file=str(path))
    stripped = [h.strip() for h in header]
    empty = [i + 1 for i, h in enumerate(stripped) if not h]
    if empty:
        raise TableDataError(f"empty column header at position(s) {empty}", file=str(path), rows=["line 1"])
    dupes = sorted({h for h in stripped if stripped.count(h) > 1})
    if dupes:
        raise TableDataError(f"duplicated column header(s) {dupes}", file=str(path), rows=["line 1"])
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                            encoding="utf-8-sig", skip_blank_lines=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise TableDataError(f"cannot parse the table: {exc}", file=str(path)) from None
    frame.columns = stripped
    frame = frame.astype(object).apply(lambda s: s.map(_clean_cell))
    frame.index = pd.RangeIndex(2, 2 + len(frame), name=LINE_INDEX)
    frame.attrs["source"] = str(path)
    frame.attrs["cleaned"] = True  # every missing cell is NaN already
    return frame


def _clean_cell(value: Any) -> Any:
    if is_missing(value):
        return np.nan
    return value.strip() if isinstance(value, str) else value


def source_of(frame: pd.DataFrame) -> str | None:
    """The file a frame was read from, if known."""
    return frame.attrs.get("source")


def describe_rows(frame: pd.DataFrame, selected: pd.Series | Sequence[bool] | np.ndarray) -> list[str]:
    """Human-readable locations of the selected rows: ``"line 7"`` for CSV rows, ``"index 3"`` otherwise."""
    mask = np.asarray(selected, dtype=bool)
    labels = frame.index[mask]
    prefix = "line" if frame.index.name == LINE_INDEX else "index"
    return [f"{prefix} {label}" for label in labels]
