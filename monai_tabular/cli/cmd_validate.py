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
"""``monai-tabular validate``: every bad-input check on a table + spec, as a readable report (exit 1 on problems)."""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import pandas as pd

from monai_tabular.cli.errors import EXIT_OK, EXIT_PROBLEMS
from monai_tabular.data import SchemaError, TableDataError, TableSchema, build_datalist, read_table
from monai_tabular.data.datalist import find_image_problems
from monai_tabular.data.table import is_missing, missing_mask

__all__ = ["NAME", "HELP", "add_arguments", "run", "find_all_problems", "summarize"]

NAME = "validate"
HELP = "check a table, its spec and its images; report every problem (exit 1 if any)"
DESCRIPTION = """Run every bad-input check on a table with its spec: missing or misspelled columns, empty labels,
duplicate subject ids, text in numerical columns, all-empty columns, missing or unreadable images, and (with
--schema) a saved schema that does not fit the table. Prints one line per problem and a summary; exits 0 when the
input is clean, 1 when it has problems."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", required=True, metavar="FILE", help="table to check")
    parser.add_argument("--spec", required=True, metavar="SPEC.json", help="spec (e.g. written by init)")
    parser.add_argument("--image-root", metavar="DIR",
                        help="folder that relative image paths start from (default: the CSV's folder)")
    parser.add_argument("--schema", metavar="schema.json",
                        help="a saved (fitted) schema the table must fit, e.g. a trained run's schema.json")
    parser.add_argument("--images", choices=("exists", "header", "full"), default="header",
                        help="image check: the file exists, its header parses (default) or all voxels decode")


def _image_problems(frame: pd.DataFrame, schema: TableSchema, root: Path, level: str) -> list[TableDataError]:
    """Image checks that build_datalist skips once the table has other problems (so all are listed at once)."""
    sid = schema.subject_id
    records = []
    for index, row in frame.iterrows():
        record = {"subject_id": str(row[sid]) if sid else f"row-{index}"}
        for key in schema.images:
            value = row.get(key)
            if not is_missing(value):
                path = Path(str(value).strip())
                record[key] = os.fspath(path if path.is_absolute() else root / path)
        records.append(record)
    return list(find_image_problems(records, [k for k in schema.images if k in frame.columns], level=level))


def _schema_of(frame: pd.DataFrame, spec: Path) -> TableSchema:
    """The spec's schema for ``frame``; a saved schema given as the spec is used as it is."""
    try:
        return TableSchema.load(spec)
    except SchemaError:
        return TableSchema.from_table(frame, spec)


def find_all_problems(csv: Path, spec: Path, *, image_root: Path | None, schema_path: Path | None,
                      level: str) -> tuple[list[TableDataError], TableSchema | None, pd.DataFrame, list[str]]:
    """Every problem of the input, the schema made from the spec (``None`` if the spec does not fit) and warnings."""
    frame = read_table(csv)
    root = image_root or Path(csv).parent
    problems: list[TableDataError] = []
    schema = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            schema = _schema_of(frame, spec)
        except TableDataError as exc:
            problems.append(exc)
        if schema is not None:
            try:
                build_datalist(frame, schema, image_root=root, check_images=level)
            except TableDataError as exc:
                problems.extend(getattr(exc, "problems", None) or [exc])
                if not any(type(p).__name__ == "ImageDataError" for p in problems):
                    problems.extend(_image_problems(frame, schema, root, level))
        if schema_path is not None:
            saved = TableSchema.load(schema_path)
            try:
                saved.check_columns(frame, require_labels=False)
            except TableDataError as exc:
                problems.append(exc)
    notes = sorted({str(w.message) for w in caught})
    return problems, schema, frame, notes


def summarize(schema: TableSchema, frame: pd.DataFrame) -> list[str]:
    """Summary lines: subjects, label classes, and each role's columns with their missing rates."""
    lines = [f"{len(frame)} rows" + (f", {frame[schema.subject_id].nunique()} subjects (column "
                                     f"{schema.subject_id!r})" if schema.subject_id else ", no subject id column")]
    for name in schema.labels:
        values = frame[name][~missing_mask(frame[name])]
        if schema.task == "classification":
            counts = ", ".join(f"{k} {v}" for k, v in values.value_counts().sort_index().items())
            lines.append(f"label {name!r} (classification): {counts}")
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            lines.append(f"label {name!r} (regression): mean {numbers.mean():.4g}, sd {numbers.std():.4g}")
    for role in ("image", "numerical", "categorical", "text", "ignore"):
        names = schema.names(role)
        if names:
            cells = ", ".join(f"{n} ({missing_mask(frame[n]).mean():.0%} missing)" for n in names)
            lines.append(f"{role}: {cells}")
    return lines


def run(args: argparse.Namespace) -> int:
    csv, spec = Path(args.csv), Path(args.spec)
    problems, schema, frame, notes = find_all_problems(
        csv, spec, image_root=Path(args.image_root) if args.image_root else None,
        schema_path=Path(args.schema) if args.schema else None, level=args.images)
    print(f"validate {csv} with {spec}" + (f" and schema {args.schema}" if args.schema else ""))
    if schema is not None:
        print("\n".join(f"  {line}" for line in summarize(schema, frame)))
    for note in notes:
        print(f"warning: {note}")
    if not problems:
        print("no problems found")
        return EXIT_OK
    print(f"{len(problems)} problem(s):")
    for problem in problems:
        print(f"  - {problem}")
    return EXIT_PROBLEMS
