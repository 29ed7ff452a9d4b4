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
"""Subject-wise data splits: k-fold and train/val/test assignment, fold files, leakage checks.

Records are MONAI-style data lists (a list of dicts, one per image/visit) or a pandas DataFrame (one row per
record). Every record carries a subject id (``subject_key``) and, for stratified splits, a label
(``label_key``). A subject may have several records; all of them always land on the same side of a split.

Subject ids are compared as strings (``12``, ``12.0`` and ``"12"`` are the same subject), so that folds read
from a CSV file match records built from a table with integer ids.

Example:
    >>> records = [{"subject_id": f"S{i}", "label": i % 2, "image": f"S{i}.nii.gz"} for i in range(20)]
    >>> folds = subject_kfold(records, n_splits=5, seed=0)
    >>> train, val = split_records(records, folds, val_fold=0)
    >>> len(train), len(val)
    (16, 4)
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import re
import warnings
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from monai_tabular.data.errors import SplitError
from monai_tabular.data.table import is_missing

__all__ = [
    "subject_kfold",
    "subject_train_val_test_split",
    "load_folds",
    "save_folds",
    "split_records",
    "check_disjoint",
    "fold_summary",
]

_INT_RE = re.compile(r"^[+-]?\d+$")
_PART_ORDER = {"train": 0, "val": 1, "valid": 1, "validation": 1, "test": 2}
_SHOWN = 10


# --------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------
def _subject_str(value: Any) -> str:
    """Canonical string form of a subject id (integral floats lose their ``.0``)."""
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(items: Sequence[Any], n: int = _SHOWN) -> str:
    """Comma-separated, quoted for strings, truncated after ``n`` items."""
    shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in list(items)[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")


def _label_sort_key(value: Any) -> tuple[str, Any]:
    if isinstance(value, (bool, np.bool_)):
        return ("0bool", int(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return ("1num", float(value))
    return ("2" + type(value).__name__, str(value))


def _fold_sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (bool, np.bool_)):
        return (1, str(value))
    if isinstance(value, (int, np.integer)):
        return (0, int(value))
    if isinstance(value, str) and value.lower() in _PART_ORDER:
        return (1, f"{_PART_ORDER[value.lower()]}")
    return (2, str(value))


def _as_records(records: Any, *, subject_key: str | None = None, what: str = "records") -> list[Mapping]:
    """Return ``records`` as a list of mappings (DataFrame rows become dicts)."""
    if isinstance(records, pd.DataFrame):
        frame = records
        if subject_key is not None and subject_key not in frame.columns and subject_key in (frame.index.names or []):
            frame = frame.reset_index()
        return frame.to_dict(orient="records")
    if isinstance(records, (Mapping, str, bytes)) or not isinstance(records, Iterable):
        raise SplitError(
            f"{what} must be a list of dicts or a pandas DataFrame, got {type(records).__name__}",
            column=subject_key,
        )
    out = list(records)
    bad = [i for i, r in enumerate(out) if not isinstance(r, Mapping)]
    if bad:
        raise SplitError(
            f"{what} must be dicts; record(s) {_show(bad)} are not (first is a {type(out[bad[0]]).__name__})",
            column=subject_key,
        )
    return out


def _subject_ids(records: list[Mapping], subject_key: str, *, what: str = "records") -> list[str]:
    """Subject id (as str) of each record; errors name the records without one."""
    missing = [i for i, r in enumerate(records) if subject_key not in r]
    if missing:
        keys = sorted(map(str, records[missing[0]].keys()))
        raise SplitError(
            f"{what}: record(s) {_show(missing)} have no subject key '{subject_key}' "
            f"(record {missing[0]} has keys: {_show(keys)}); pass subject_key=... to name the subject id key",
            column=subject_key,
        )
    empty = [i for i, r in enumerate(records) if is_missing(r[subject_key])]
    if empty:
        raise SplitError(
            f"{what}: record(s) {_show(empty)} have an empty subject id in '{subject_key}'", column=subject_key
        )
    return [_subject_str(r[subject_key]) for r in records]


def _subject_labels(
    records: list[Mapping], subjects: list[str], label_key: str, subject_key: str
) -> dict[str, Any]:
    """Label of each subject (first-appearance order); all records of a subject must agree."""
    missing = [i for i, r in enumerate(records) if label_key not in r]
    if missing:
        keys = sorted(map(str, records[missing[0]].keys()))
        raise SplitError(
            f"record(s) {_show(missing)} (subject(s) {_show(sorted({subjects[i] for i in missing}))}) have no "
            f"label key '{label_key}' (record {missing[0]} has keys: {_show(keys)}); pass label_key=... "
            "or label_key=None for an unstratified split",
            column=label_key,
            rows=sorted({subjects[i] for i in missing}),
        )
    empty = [i for i, r in enumerate(records) if is_missing(r[label_key])]
    if empty:
        raise SplitError(
            f"record(s) {_show(empty)} have an empty label in '{label_key}'",
            column=label_key,
            rows=sorted({subjects[i] for i in empty}),
        )
    unhashable = [i for i, r in enumerate(records) if not isinstance(r[label_key], Hashable)]
    if unhashable:
        raise SplitError(
            f"record(s) {_show(unhashable)} have a label in '{label_key}' that is not a single value "
            f"(first is a {type(records[unhashable[0]][label_key]).__name__})",
            column=label_key,
            rows=sorted({subjects[i] for i in unhashable}),
        )
    per_subject: dict[str, dict[Any, list[int]]] = {}
    for i, (r, s) in enumerate(zip(records, subjects)):
        per_subject.setdefault(s, {}).setdefault(r[label_key], []).append(i)
    conflicts = {s: labs for s, labs in per_subject.items() if len(labs) > 1}
    if conflicts:
        s0, labs0 = next(iter(conflicts.items()))
        detail = "; ".join(f"{lab!r} in record(s) {_show(idx, 5)}" for lab, idx in labs0.items())
        raise SplitError(
            f"subject(s) {_show(list(conflicts))} have records with different labels in '{label_key}' "
            f"(subject {s0!r}: {detail}); a subject-wise stratified split needs one label per subject",
            column=label_key,
            rows=list(conflicts),
        )
    return {s: next(iter(labs)) for s, labs in per_subject.items()}


def _check_n_splits(n_splits: int) -> None:
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise SplitError(f"n_splits must be an integer >= 2, got {n_splits!r}")


# --------------------------------------------------------------------------------------------------------------
# k-fold
# --------------------------------------------------------------------------------------------------------------
def subject_kfold(
    records: Sequence[Mapping] | pd.DataFrame,
    *,
    n_splits: int = 5,
    label_key: str | None = "label",
    subject_key: str = "subject_id",
    seed: int = 0,
    shuffle: bool = True,
) -> dict[str, int]:
    """Assign every subject to one of ``n_splits`` folds, stratified by label, never splitting a subject.

    Uses scikit-learn's ``StratifiedGroupKFold`` with the subject as group, so all records of a subject
    share a fold and the class proportions of every fold stay close to the overall ones. With
    ``label_key=None`` it uses ``GroupKFold`` (shuffled by ``seed`` where the installed scikit-learn allows,
    otherwise on a seeded permutation of the subjects).

    Args:
        records: list of dicts (or a DataFrame), one per record; a subject may have several records.
        n_splits: number of folds (>= 2, at most the number of subjects).
        label_key: key of the class label (str or int labels); None for an unstratified split.
        subject_key: key of the subject id.
        seed: random seed; the same records and seed give the same folds.
        shuffle: shuffle subjects before assigning them (``False``: scikit-learn's deterministic order).

    Returns:
        dict mapping each subject id (as str, in order of first appearance) to its fold index ``0..n_splits-1``.

    Raises:
        SplitError: a record lacks the subject or label key (names the key and record index), fewer
            subjects than folds, or a subject whose records carry different labels (names the subject).

    Warns:
        UserWarning: a class has fewer subjects than ``n_splits`` (names the class); some folds then have
            no subject of that class.

    Example:
        >>> records = [{"subject_id": f"S{i // 2}", "label": "MEL" if i % 6 < 2 else "NEV"} for i in range(40)]
        >>> folds = subject_kfold(records, n_splits=5, seed=0)
        >>> sorted(set(folds.values()))
        [0, 1, 2, 3, 4]
        >>> len(folds)  # 20 subjects, 2 records each
        20
    """
    _check_n_splits(n_splits)
    recs = _as_records(records, subject_key=subject_key)
    subjects = _subject_ids(recs, subject_key)
    order = list(dict.fromkeys(subjects))
    if len(order) < n_splits:
        raise SplitError(
            f"cannot make n_splits={n_splits} subject-wise folds from {len(order)} subject(s) "
            f"({_show(order)}) in '{subject_key}'; lower n_splits or add subjects",
            column=subject_key,
        )
    groups = np.asarray(subjects, dtype=object)
    X = np.zeros((len(recs), 1))
    fold_of = np.full(len(recs), -1, dtype=int)

    if label_key is None:
        if "shuffle" in inspect.signature(GroupKFold).parameters:
            splitter = GroupKFold(n_splits=n_splits, shuffle=shuffle, random_state=seed if shuffle else None)
            split_groups = groups
        else:  # pragma: no cover - scikit-learn < 1.6
            splitter = GroupKFold(n_splits=n_splits)
            codes = {s: i for i, s in enumerate(order)}
            perm = np.random.default_rng(seed).permutation(len(order)) if shuffle else np.arange(len(order))
            split_groups = np.asarray([perm[codes[s]] for s in subjects])
        for k, (_, test_idx) in enumerate(splitter.split(X, groups=split_groups)):
            fold_of[test_idx] = k
    else:
        labels = _subject_labels(recs, subjects, label_key, subject_key)
        classes = sorted(set(labels.values()), key=_label_sort_key)
        code = {c: i for i, c in enumerate(classes)}
        subj_per_class = {c: sum(1 for v in labels.values() if v == c) for c in classes}
        small = [c for c in classes if subj_per_class[c] < n_splits]
        if small:
            counts = ", ".join(f"{c!r} ({subj_per_class[c]})" for c in small[:20])
            more = f" (+{len(small) - 20} more)" if len(small) > 20 else ""
            warnings.warn(
                f"class(es) {counts}{more} in '{label_key}' have fewer subjects than n_splits={n_splits}: "
                "some folds will have no subject of these classes",
                UserWarning,
                stacklevel=2,
            )
        y = np.asarray([code[labels[s]] for s in subjects])
        recs_per_class = np.bincount(y, minlength=len(classes))
        if np.all(recs_per_class < n_splits):
            # StratifiedGroupKFold refuses this; stratify by dealing shuffled subjects class by class
            rng = np.random.default_rng(seed)
            subj_fold: dict[str, int] = {}
            k = 0
            for c in classes:
                members = [s for s in order if labels[s] == c]
                if shuffle:
                    members = [members[i] for i in rng.permutation(len(members))]
                for s in members:
                    subj_fold[s] = k % n_splits
                    k += 1
            fold_of = np.asarray([subj_fold[s] for s in subjects])
        else:
            splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=shuffle, random_state=seed if shuffle else None)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
                for k, (_, test_idx) in enumerate(splitter.split(X, y, groups=groups)):
                    fold_of[test_idx] = k

    folds = {s: int(f) for s, f in zip(subjects, fold_of)}
    folds = {s: folds[s] for s in order}
    empty = sorted(set(range(n_splits)) - set(folds.values()))
    if empty:
        warnings.warn(
            f"fold(s) {_show(empty)} received no subject ({len(order)} subjects, n_splits={n_splits})",
            UserWarning,
            stacklevel=2,
        )
    return folds


# --------------------------------------------------------------------------------------------------------------
# train / val / test
# --------------------------------------------------------------------------------------------------------------
def _part_size(fraction: float, n: int) -> int:
    size = int(math.floor(fraction * n + 0.5))
    return max(size, 1) if fraction > 0 else 0


def subject_train_val_test_split(
    records: Sequence[Mapping] | pd.DataFrame,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    label_key: str | None = "label",
    subject_key: str = "subject_id",
    seed: int = 0,
) -> dict[str, str]:
    """Assign every subject to ``"train"``, ``"val"`` or ``"test"``, stratified by label, subject-wise.

    The number of val/test subjects is ``round(fraction * n_subjects)`` (at least 1 when the fraction is
    positive). Within each class the subjects are shuffled by ``seed`` and spread evenly over the three parts
    (systematic sampling), so each part's class proportions follow the overall ones; classes with one or
    two subjects stay in train.

    Args:
        records: list of dicts (or a DataFrame), one per record; a subject may have several records.
        val_fraction: fraction of subjects for validation, in ``[0, 1)``.
        test_fraction: fraction of subjects for test, in ``[0, 1)``; ``val_fraction + test_fraction < 1``.
        label_key: key of the class label; None for an unstratified (random) split.
        subject_key: key of the subject id.
        seed: random seed; the same records and seed give the same split.

    Returns:
        dict mapping each subject id (as str, in order of first appearance) to ``"train"``, ``"val"`` or
        ``"test"``.

    Raises:
        SplitError: bad fractions, too few subjects to leave any for training, a record without the
            subject/label key, or a subject whose records carry different labels.

    Example:
        >>> records = [{"subject_id": f"S{i}", "label": i % 2} for i in range(20)]
        >>> parts = subject_train_val_test_split(records, val_fraction=0.2, test_fraction=0.2, seed=0)
        >>> sorted(parts.values()).count("test"), sorted(parts.values()).count("val")
        (4, 4)
    """
    for name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(frac, (int, float)) or isinstance(frac, bool) or not 0 <= frac < 1:
            raise SplitError(f"{name} must be a number in [0, 1), got {frac!r}")
    if val_fraction + test_fraction >= 1:
        raise SplitError(
            f"val_fraction + test_fraction must be < 1 to leave subjects for training, "
            f"got {val_fraction} + {test_fraction}"
        )
    recs = _as_records(records, subject_key=subject_key)
    subjects = _subject_ids(recs, subject_key)
    order = list(dict.fromkeys(subjects))
    n = len(order)
    n_test, n_val = _part_size(test_fraction, n), _part_size(val_fraction, n)
    if n_test + n_val >= n:
        raise SplitError(
            f"{n} subject(s) ({_show(order)}) in '{subject_key}' are too few for val_fraction={val_fraction} and "
            f"test_fraction={test_fraction}: {n_val} val + {n_test} test would leave no training subject",
            column=subject_key,
        )
    rng = np.random.default_rng(seed)
    if label_key is None:
        ranked = [order[i] for i in rng.permutation(n)]
    else:
        labels = _subject_labels(recs, subjects, label_key, subject_key)
        classes = sorted(set(labels.values()), key=_label_sort_key)
        keyed: list[tuple[float, float, str]] = []
        for c in classes:
            members = [s for s in order if labels[s] == c]
            members = [members[i] for i in rng.permutation(len(members))]
            for i, s in enumerate(members):
                keyed.append(((i + 0.5) / len(members), float(rng.random()), s))
        ranked = [s for _, _, s in sorted(keyed)]
    part = {s: "test" for s in ranked[:n_test]}
    part.update({s: "val" for s in ranked[n_test : n_test + n_val]})
    return {s: part.get(s, "train") for s in order}


# --------------------------------------------------------------------------------------------------------------
# fold files
# --------------------------------------------------------------------------------------------------------------
def load_folds(
    path: str | os.PathLike,
    *,
    subject_column: str = "subject_id",
    fold_column: str = "fold",
) -> dict[str, int | str]:
    """Read a subject -> fold assignment from a CSV file.

    Values are read as text; the fold column becomes ``int`` when every value in it is an integer
    (``0..4``), otherwise it stays ``str`` (``train``/``val``/``test``). Blank lines are ignored. A subject
    listed twice with the same fold is accepted.

    Args:
        path: CSV file, e.g. IXI's ``folds.csv`` (``subject_id,fold``) or Derm7pt's split file
            (``case_id,label,split``; use ``subject_column="case_id", fold_column="split"``).
        subject_column: column holding the subject id.
        fold_column: column holding the fold.

    Returns:
        dict mapping subject id (str) to its fold, in file order.

    Raises:
        FileNotFoundError: the file does not exist (names it).
        SplitError: the file is empty, a column is missing (names file, column and the columns it has),
            empty subject/fold cells (names the CSV lines; header is line 1), or a subject listed with
            different folds (names the subject and lines).

    Example:
        >>> folds = load_folds("../shared/data/ixi_t1_hh/folds.csv")  # doctest: +SKIP
        >>> folds["IXI012-HH-1211"]  # doctest: +SKIP
        0
        >>> split = load_folds("split_mel_vs_nev.csv", subject_column="case_id", fold_column="split")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"folds file '{path}' {what}")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            raise SplitError("folds file is empty (no header line)", file=str(path))
        header = [c.strip() for c in header]
        for col in (subject_column, fold_column):
            if col not in header:
                raise SplitError(
                    f"folds file has no column '{col}'; its columns are: {_show(header, 30)}",
                    file=str(path),
                    column=col,
                )
        si, fi = header.index(subject_column), header.index(fold_column)
        rows: list[tuple[int, str, str]] = []
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            line = reader.line_num
            subj = row[si].strip() if si < len(row) else ""
            fold = row[fi].strip() if fi < len(row) else ""
            rows.append((line, subj, fold))
    if not rows:
        raise SplitError("folds file has a header but no rows", file=str(path))
    for col, idx in ((subject_column, 1), (fold_column, 2)):
        empty = [r[0] for r in rows if r[idx] == ""]
        if empty:
            raise SplitError(
                f"folds file has empty '{col}' cell(s) on CSV line(s) {_show(empty)} (header is line 1)",
                file=str(path),
                column=col,
                rows=[f"line {n}" for n in empty],
            )

    as_int = all(_INT_RE.match(f) for _, _, f in rows)
    folds: dict[str, int | str] = {}
    seen: dict[str, list[tuple[int, int | str]]] = {}
    for line, subj, fold in rows:
        value: int | str = int(fold) if as_int else fold
        folds.setdefault(subj, value)
        seen.setdefault(subj, []).append((line, value))
    conflicts = [s for s, hits in seen.items() if len({v for _, v in hits}) > 1]
    if conflicts:
        detail = "; ".join(
            f"{s!r}: " + ", ".join(f"fold {v!r} on line {n}" for n, v in seen[s][:5]) for s in conflicts[:5]
        )
        raise SplitError(
            f"subject(s) {_show(conflicts)} are listed with different folds in '{fold_column}' ({detail})",
            file=str(path),
            column=subject_column,
            rows=[f"line {n}" for n in sorted(n for s in conflicts for n, _ in seen[s])],
        )
    return folds


def save_folds(
    folds: Mapping[Any, int | str],
    path: str | os.PathLike,
    *,
    subject_column: str = "subject_id",
    fold_column: str = "fold",
    overwrite: bool = False,
) -> Path:
    """Write a subject -> fold assignment as a two-column CSV file (readable by :func:`load_folds`).

    Note that string folds that look like integers (``"1"``) are read back as ``int``.

    Args:
        folds: mapping subject id -> fold (int or str), e.g. from :func:`subject_kfold`.
        path: CSV file to write; missing parent folders are created.
        subject_column: header of the subject id column.
        fold_column: header of the fold column.
        overwrite: replace an existing file (default: refuse).

    Returns:
        the path written.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False (names it).
        SplitError: a subject has no fold (names it), or the column names clash.

    Example:
        >>> save_folds({"S1": 0, "S2": 1}, "folds.csv", overwrite=True)  # doctest: +SKIP
        >>> load_folds("folds.csv")  # doctest: +SKIP
        {'S1': 0, 'S2': 1}
    """
    path = Path(path)
    if subject_column == fold_column:
        raise SplitError(f"subject_column and fold_column are both '{fold_column}'", file=str(path), column=fold_column)
    if not isinstance(folds, Mapping):
        raise SplitError(f"folds must be a mapping subject -> fold, got {type(folds).__name__}", file=str(path))
    empty = [_subject_str(s) for s, f in folds.items() if is_missing(f)]
    if empty:
        raise SplitError("subject(s) have no fold; cannot save", file=str(path), column=fold_column, rows=empty)
    if path.exists() and not overwrite:
        raise FileExistsError(f"folds file '{path}' already exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([subject_column, fold_column])
        for s, f in folds.items():
            writer.writerow([_subject_str(s), f.item() if isinstance(f, np.generic) else f])
    return path


# --------------------------------------------------------------------------------------------------------------
# applying folds
# --------------------------------------------------------------------------------------------------------------
def _resolve_fold(value: Any, existing: list[Any], name: str) -> Any:
    if value in existing:
        return value
    matches = [f for f in existing if str(f) == str(value)]
    if len(matches) == 1:  # e.g. "0" from a config file where the folds are ints
        return matches[0]
    raise SplitError(f"{name}={value!r} is not one of the folds; the folds are: {_show(existing, 30)}")


def split_records(
    records: Sequence[Mapping] | pd.DataFrame,
    folds: Mapping[Any, int | str],
    *,
    val_fold: int | str,
    test_fold: int | str | None = None,
    subject_key: str = "subject_id",
    unassigned: str = "error",
) -> tuple[list, list] | tuple[list, list, list]:
    """Split records into train / val (/ test) lists by the fold of their subject.

    Train gets every record whose subject's fold is neither ``val_fold`` nor ``test_fold``. The result is
    checked with :func:`check_disjoint`.

    Args:
        records: list of dicts (or a DataFrame, whose rows are returned as dicts).
        folds: mapping subject id -> fold, e.g. from :func:`subject_kfold` or :func:`load_folds`.
        val_fold: the fold used for validation (a fold value such as ``0`` or ``"val"``).
        test_fold: the fold held out for testing, or None for a two-way split.
        subject_key: key of the subject id in the records.
        unassigned: what to do with records whose subject has no fold: ``"error"`` (raise, naming the
            subjects) or ``"drop"`` (leave them out, with a warning giving the count).

    Returns:
        ``(train, val)`` or, with ``test_fold``, ``(train, val, test)``: lists of records, in input order.

    Raises:
        SplitError: ``val_fold``/``test_fold`` is not a fold (lists the folds that exist), they are the same,
            subjects without a fold with ``unassigned="error"`` (names them), or a record without a subject id.

    Example:
        >>> records = [{"subject_id": s, "image": f"{s}.png"} for s in ["a", "b", "c"]]
        >>> train, val, test = split_records(records, {"a": "train", "b": "val", "c": "test"},
        ...                                  val_fold="val", test_fold="test")
        >>> [r["subject_id"] for r in train], [r["subject_id"] for r in val]
        (['a'], ['b'])
    """
    if unassigned not in ("error", "drop"):
        raise SplitError(f"unassigned must be 'error' or 'drop', got {unassigned!r}")
    if not isinstance(folds, Mapping) or not folds:
        raise SplitError("folds must be a non-empty mapping subject -> fold", column=subject_key)
    fold_of = {_subject_str(s): f for s, f in folds.items()}
    existing = sorted(set(fold_of.values()), key=_fold_sort_key)
    val_fold = _resolve_fold(val_fold, existing, "val_fold")
    if test_fold is not None:
        test_fold = _resolve_fold(test_fold, existing, "test_fold")
        if test_fold == val_fold:
            raise SplitError(f"val_fold and test_fold are the same fold ({val_fold!r})")

    recs = _as_records(records, subject_key=subject_key)
    subjects = _subject_ids(recs, subject_key)
    missing = list(dict.fromkeys(s for s in subjects if s not in fold_of))
    if missing:
        if unassigned == "error":
            raise SplitError(
                f"{len(missing)} subject(s) in the records have no fold: {_show(missing)}; add them to the folds "
                "or pass unassigned='drop'",
                column=subject_key,
                rows=missing,
            )
        n_rec = sum(1 for s in subjects if s not in fold_of)
        warnings.warn(
            f"dropping {n_rec} record(s) of {len(missing)} subject(s) without a fold (first: {_show(missing, 5)})",
            UserWarning,
            stacklevel=2,
        )
    train, val, test = [], [], []
    for r, s in zip(recs, subjects):
        if s not in fold_of:
            continue
        f = fold_of[s]
        if f == val_fold:
            val.append(r)
        elif test_fold is not None and f == test_fold:
            test.append(r)
        else:
            train.append(r)
    if test_fold is None:
        check_disjoint(train=train, val=val, subject_key=subject_key)
        return train, val
    check_disjoint(train=train, val=val, test=test, subject_key=subject_key)
    return train, val, test


def _part_subjects(name: str, part: Any, subject_key: str) -> list[str]:
    if isinstance(part, pd.DataFrame):
        return _subject_ids(_as_records(part, subject_key=subject_key), subject_key, what=f"part '{name}'")
    if isinstance(part, (str, bytes)) or not isinstance(part, (Iterable, Collection)):
        raise SplitError(
            f"part '{name}' must be a list of records or a collection of subject ids, got {type(part).__name__}",
            column=subject_key,
        )
    if isinstance(part, Mapping):  # e.g. a subject -> fold mapping: its keys are the subjects
        items = list(part.keys())
    else:
        items = list(part)
    if any(isinstance(x, Mapping) for x in items):
        return _subject_ids(_as_records(items, subject_key=subject_key, what=f"part '{name}'"), subject_key,
                            what=f"part '{name}'")
    empty = [i for i, x in enumerate(items) if is_missing(x)]
    if empty:
        raise SplitError(f"part '{name}' has empty subject id(s) at position(s) {_show(empty)}", column=subject_key)
    return [_subject_str(x) for x in items]


def check_disjoint(*, subject_key: str = "subject_id", **parts: Any) -> None:
    """Refuse a split in which a subject appears in more than one part (subject leakage).

    Args:
        subject_key: key of the subject id in record parts.
        **parts: named parts, each a list of records (dicts), a DataFrame, or a collection of subject ids.

    Raises:
        SplitError: naming each subject id found in several parts and the parts it is in.

    Example:
        >>> check_disjoint(train=[{"subject_id": "a"}], val=[{"subject_id": "b"}])
        >>> check_disjoint(train=["a", "b"], test=["b"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        monai_tabular.data.errors.SplitError: 1 subject(s) appear in more than one part: 'b' in train, test ...
    """
    where: dict[str, list[str]] = {}
    for name, part in parts.items():
        for s in dict.fromkeys(_part_subjects(name, part, subject_key)):
            where.setdefault(s, []).append(name)
    leaked = {s: names for s, names in where.items() if len(names) > 1}
    if leaked:
        detail = "; ".join(f"{s!r} in {', '.join(names)}" for s, names in list(leaked.items())[:_SHOWN])
        more = f" (+{len(leaked) - _SHOWN} more)" if len(leaked) > _SHOWN else ""
        raise SplitError(
            f"{len(leaked)} subject(s) appear in more than one part: {detail}{more}",
            column=subject_key,
            rows=list(leaked),
        )


# --------------------------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------------------------
def fold_summary(
    records: Sequence[Mapping] | pd.DataFrame,
    folds: Mapping[Any, int | str],
    *,
    label_key: str | None = "label",
    subject_key: str = "subject_id",
) -> pd.DataFrame:
    """Per fold: number of subjects, number of records and subjects per class.

    Args:
        records: list of dicts (or a DataFrame).
        folds: mapping subject id -> fold.
        label_key: key of the class label; None to leave out the class counts.
        subject_key: key of the subject id.

    Returns:
        DataFrame indexed by fold (sorted; ``train``/``val``/``test`` in that order) with columns
        ``n_subjects``, ``n_records`` and one column of subject counts per class. Subjects of the records
        that have no fold are counted in a last row ``"(unassigned)"``; folds with no subject in the records
        get a row of zeros.

    Raises:
        SplitError: a record without the subject/label key, or a subject with different labels.

    Example:
        >>> records = [{"subject_id": f"S{i}", "label": "AD" if i < 4 else "CN"} for i in range(10)]
        >>> folds = {f"S{i}": i % 2 for i in range(10)}
        >>> fold_summary(records, folds)[["n_subjects", "AD", "CN"]].to_dict("index")
        {0: {'n_subjects': 5, 'AD': 2, 'CN': 3}, 1: {'n_subjects': 5, 'AD': 2, 'CN': 3}}
    """
    recs = _as_records(records, subject_key=subject_key)
    subjects = _subject_ids(recs, subject_key)
    fold_of = {_subject_str(s): f for s, f in folds.items()}
    labels = _subject_labels(recs, subjects, label_key, subject_key) if label_key is not None else {}
    classes = sorted(set(labels.values()), key=_label_sort_key)
    unassigned = "(unassigned)"
    fold_names: list[Any] = sorted(set(fold_of.values()), key=_fold_sort_key)
    has_unassigned = any(s not in fold_of for s in subjects)
    if has_unassigned:
        fold_names.append(unassigned)
    table = {f: {"n_subjects": 0, "n_records": 0, **{c: 0 for c in classes}} for f in fold_names}
    for s in subjects:
        table[fold_of.get(s, unassigned)]["n_records"] += 1
    for s in dict.fromkeys(subjects):
        row = table[fold_of.get(s, unassigned)]
        row["n_subjects"] += 1
        if label_key is not None:
            row[labels[s]] += 1
    frame = pd.DataFrame.from_dict(table, orient="index", columns=["n_subjects", "n_records", *classes])
    frame.index.name = "fold"
    return frame.astype("int64")
