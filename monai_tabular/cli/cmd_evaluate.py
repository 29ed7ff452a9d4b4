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
"""``monai-tabular evaluate``: ``train.json`` + ``evaluate.json`` on the test (else validation) part of a fold."""

from __future__ import annotations

import argparse
from pathlib import Path

from monai_tabular.cli.bundles import find_bundle
from monai_tabular.cli.errors import EXIT_OK
from monai_tabular.cli.overrides import add_run_arguments, collect_overrides, resolve_folds
from monai_tabular.cli.runs import format_metrics, read_json, run_each_fold

__all__ = ["NAME", "HELP", "MODES", "add_arguments", "run"]

NAME = "evaluate"
HELP = "evaluate a trained fold with the bundle's evaluate.json"
DESCRIPTION = """Evaluate trained run folders with the bundle's train.json + evaluate.json, using the same --config
and --set values as training. Writes metrics_<mode>.json and predictions_<mode>.csv into each run folder."""
MODES = ("both", "image_only", "table_only")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--mode", choices=MODES, default="both",
                        help="inputs the network sees: both (default), image_only or table_only (the other input "
                             "is masked out)")


def _reporter(mode: str):
    def report(run_dir: Path) -> str:
        content = read_json(run_dir / f"metrics_{mode}.json")
        if not content:
            return f"{run_dir}: no metrics_{mode}.json written"
        part = content.get("part", "?")
        return f"{run_dir} ({mode}, {part} part): {format_metrics(content.get('metrics') or {}, limit=10)}"

    return report


def run(args: argparse.Namespace) -> int:
    bundle_dir = find_bundle(args.bundle)
    overrides = collect_overrides(args)
    overrides["eval_mode"] = args.mode
    folds = resolve_folds(args.folds, overrides, bundle_dir)
    run_each_fold(bundle_dir, ["train.json", "evaluate.json"], overrides, folds, verb="evaluate",
                  report=_reporter(args.mode))
    return EXIT_OK
