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
"""``monai-tabular init``: infer a spec from a new table, print it for review and write a project folder.

The folder holds ``spec.json`` (every column's role written out, ``"infer": false``: the one file to edit),
``datalist.json`` (the MONAI data list, images checked to exist) and ``config.json`` (the overrides that
``train``/``evaluate`` pass on to the bundle; relative paths in it start from the folder).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from monai_tabular.cli.bundles import DEFAULT_BUNDLE, bundle_defaults, find_bundle
from monai_tabular.cli.errors import EXIT_OK, CLIError
from monai_tabular.data import TableDataError, TableSchema, build_datalist, canonical_category, read_table
from monai_tabular.data.schema import TASKS
from monai_tabular.data.table import missing_mask

__all__ = ["NAME", "HELP", "add_arguments", "run", "spec_from_schema", "guess_task", "FILES", "CONFIG_KEYS"]

NAME = "init"
HELP = "infer a spec from a new table and write spec.json, datalist.json and config.json for review"
DESCRIPTION = """Infer the roles of a new table's columns (from the flags and the values), print them for review and
write DIR/spec.json (every column's role written out, "infer": false: the one file to edit), DIR/datalist.json
(the MONAI data list; images checked to exist) and DIR/config.json (the overrides `train --config` and `evaluate
--config` pass on to the bundle; relative paths in it start from DIR)."""
FILES = ("spec.json", "datalist.json", "config.json")
# bundle values copied into config.json (their current defaults), for the user to edit
CONFIG_KEYS = ("model", "image_encoder", "image_encoder_args", "table_encoder", "epochs", "batch_size",
               "learning_rate", "n_folds", "fold", "seed")
_REGRESSION_MIN_LEVELS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", required=True, metavar="FILE", help="the table: one row per subject")
    parser.add_argument("--label", required=True, metavar="COL", help="label column")
    parser.add_argument("--image-root", metavar="DIR",
                        help="folder that relative image paths start from (default: the CSV's folder)")
    parser.add_argument("--subject-id", metavar="COL", help="subject id column (default: inferred from its name)")
    parser.add_argument("--task", choices=TASKS,
                        help="default: regression for a numeric label with many values, else classification")
    parser.add_argument("--output", default="monai_tabular_project", metavar="DIR",
                        help="project folder to write (default: ./monai_tabular_project)")
    parser.add_argument("--bundle", default=DEFAULT_BUNDLE, metavar="PATH_OR_NAME",
                        help="bundle whose defaults config.json starts from")
    parser.add_argument("--force", action="store_true", help="replace spec.json/datalist.json/config.json in DIR")


def guess_task(values: pd.Series) -> str:
    """``regression`` for a label of numbers with many distinct values, else ``classification``.

    Example:
        >>> guess_task(pd.Series(["case", "control"])), guess_task(pd.Series([str(v / 3) for v in range(30)]))
        ('classification', 'regression')
    """
    observed = values[~missing_mask(values)]
    numbers = pd.to_numeric(observed, errors="coerce")
    if len(observed) and numbers.notna().all() and numbers.nunique() > _REGRESSION_MIN_LEVELS:
        return "regression"
    return "classification"


def spec_from_schema(schema: TableSchema, frame: pd.DataFrame) -> dict[str, Any]:
    """A spec naming every column's role explicitly (``"infer": false``), with descriptions/units and classes."""
    labels = schema.labels
    spec: dict[str, Any] = {}
    if schema.subject_id:
        spec["subject_id"] = schema.subject_id
    spec["label"] = labels[0] if len(labels) == 1 else labels
    spec["task"] = schema.task
    if schema.task == "classification" and len(labels) == 1:
        values = frame[labels[0]][~missing_mask(frame[labels[0]])]
        spec["classes"] = sorted({canonical_category(v) for v in values})
    for role in ("image", "numerical", "categorical", "text", "ignore"):
        spec[role] = schema.names(role)
    spec["columns"] = {c.name: {"description": c.description, **({"unit": c.unit} if c.unit else {})}
                       for c in schema.columns if c.role in ("numerical", "categorical", "text")}
    spec["infer"] = False
    return spec


def _config(args: argparse.Namespace, csv: Path) -> dict[str, Any]:
    defaults = bundle_defaults(find_bundle(args.bundle))
    config: dict[str, Any] = {"csv": str(csv.resolve()), "spec": "spec.json",
                              "dataset_dir": str(Path(args.image_root).resolve()) if args.image_root else "",
                              "output_dir": "runs"}
    config.update({k: defaults[k] for k in CONFIG_KEYS if k in defaults})
    return config


def _write(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content, indent=2, allow_nan=False) + "\n")


def run(args: argparse.Namespace) -> int:
    csv, out = Path(args.csv), Path(args.output)
    existing = [name for name in FILES if (out / name).exists()]
    if existing and not args.force:
        raise CLIError(f"{out} already holds {existing}; pass --force to replace them")
    frame = read_table(csv)
    if args.label not in frame.columns:
        raise TableDataError(f"no label column {args.label!r}; columns: {list(frame.columns)}", file=str(csv),
                             column=args.label)
    task = args.task or guess_task(frame[args.label])
    request = {"label": args.label, "task": task, **({"subject_id": args.subject_id} if args.subject_id else {})}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = TableSchema.from_table(frame, request)
    spec = spec_from_schema(schema, frame)
    config = _config(args, csv)
    print(_review(schema, frame, spec, request, task_given=args.task is not None))
    for warning in caught:
        print(f"warning: {warning.message}")
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "spec.json", spec)
    _write(out / "config.json", config)
    print(f"\nwrote {out / 'spec.json'} (edit roles, classes, descriptions here) and {out / 'config.json'}")
    try:
        root = Path(args.image_root) if args.image_root else csv.parent
        records = build_datalist(frame, TableSchema.from_table(frame, spec), image_root=root.resolve(),
                                 check_images="exists")
    except TableDataError:
        print(f"{out / 'datalist.json'} was not written: fix the problems below in the table or spec.json, check "
              f"with `monai-tabular validate --csv {csv} --spec {out / 'spec.json'}`, then rerun init with --force",
              file=sys.stderr)
        raise
    _write(out / "datalist.json", records)
    print(f"wrote {out / 'datalist.json'} ({len(records)} subjects)\n"
          f"next: monai-tabular validate --csv {csv} --spec {out / 'spec.json'}"
          + (f" --image-root {args.image_root}" if args.image_root else "")
          + f"\n      monai-tabular train --config {out / 'config.json'}")
    return EXIT_OK


def _review(schema: TableSchema, frame: pd.DataFrame, spec: dict, request: dict, *, task_given: bool) -> str:
    """The inferred schema (roles, descriptions, statistics over all rows) and notes on what to check."""
    shown = schema
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            shown = TableSchema.from_table(frame, request).fit(frame)
        except TableDataError:
            pass  # problems are reported when the data list is built; show the roles only
    lines = [shown.describe()]
    if not task_given:
        lines.append(f"task {schema.task!r} inferred from the label's values (pass --task to choose)")
    if "classes" in spec:
        lines.append(f"classes {spec['classes']}: the last is the positive class; reorder them in spec.json")
    if schema.subject_id is None:
        candidates = [c for c in schema.names("ignore") if frame[c].is_unique and not missing_mask(frame[c]).any()]
        lines.append("no subject id column found: pass --subject-id COL" +
                     (f" (candidates: {candidates})" if candidates else ""))
    return "\n".join(lines)
