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
"""``monai-tabular predict``: the bundle's ``inference.json`` on a new table (labels optional)."""

from __future__ import annotations

import argparse
from pathlib import Path

from monai_tabular.cli.bundles import find_bundle, run_configs
from monai_tabular.cli.errors import EXIT_OK, CLIError
from monai_tabular.cli.overrides import add_bundle_argument, add_set_argument, parse_sets

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "predict"
HELP = "predict with a trained run folder on a new table (bundle inference.json)"
DESCRIPTION = """Predict with a trained run folder on a new CSV, which needs the columns the run's schema.json names
(labels are optional). Unseen categories map to the unknown index and empty cells are masked, as in training."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", required=True, metavar="DIR",
                        help="trained run folder (holds model.pt, schema.json, network.json, preprocessing.json)")
    parser.add_argument("--csv", required=True, metavar="FILE", help="table of the subjects to predict")
    parser.add_argument("--output", required=True, metavar="FILE", help="predictions CSV to write")
    parser.add_argument("--image-root", metavar="DIR",
                        help="folder that relative image paths start from (default: the CSV's folder)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    add_bundle_argument(parser)
    add_set_argument(parser)


def run(args: argparse.Namespace) -> int:
    bundle_dir = find_bundle(args.bundle)
    run_dir, csv, output = Path(args.run_dir), Path(args.csv), Path(args.output)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    for name in ("model.pt", "schema.json"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name} does not exist: is {run_dir} the folder of a trained run?")
    if not csv.is_file():
        raise FileNotFoundError(f"table file {csv} does not exist")
    if output.exists() and not args.overwrite:
        raise CLIError(f"{output} exists; pass --overwrite to replace it")
    overrides = parse_sets(args.sets)
    overrides.update({"run_dir": str(run_dir.resolve()), "csv": str(csv.resolve()),
                      "output_csv": str(output.resolve()), "overwrite": bool(args.overwrite)})
    if args.image_root:
        overrides["dataset_dir"] = str(Path(args.image_root).resolve())
    print(f"predict: bundle {bundle_dir.name}, run folder {run_dir}, table {csv}", flush=True)
    run_configs(bundle_dir, ["inference.json"], overrides)
    n_rows = sum(1 for _ in output.open()) - 1 if output.is_file() else 0
    print(f"wrote {n_rows} predictions to {output}")
    return EXIT_OK
