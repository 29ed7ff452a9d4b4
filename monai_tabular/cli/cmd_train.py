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
"""``monai-tabular train``: the bundle's ``train.json`` with overrides from ``--config`` and ``--set``."""

from __future__ import annotations

import argparse
from pathlib import Path

from monai_tabular.cli.bundles import find_bundle
from monai_tabular.cli.errors import EXIT_OK
from monai_tabular.cli.overrides import add_run_arguments, collect_overrides, resolve_folds
from monai_tabular.cli.runs import format_metrics, read_json, run_each_fold

__all__ = ["NAME", "HELP", "add_arguments", "run", "training_report"]

NAME = "train"
HELP = "train a model with the bundle's train.json (one fold, or several with --folds)"
DESCRIPTION = """Train with the bundle's train.json. Overrides come from --config (written by `monai-tabular init`)
and --set KEY=VALUE (later wins). The run folder (<output_dir>/fold<fold>) receives model.pt, schema.json,
network.json, preprocessing.json and summary.json."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def training_report(run_dir: Path) -> str:
    """One line: the run folder and its best validation metric (from ``summary.json``)."""
    summary = read_json(run_dir / "summary.json")
    if not summary:
        return f"{run_dir}: no summary.json written"
    metrics = summary.get("last_metrics") or {}
    name = summary.get("key_metric") or next((k for k in metrics if k.startswith("val_")), "key metric")
    last = format_metrics({k: v for k, v in metrics.items() if k != name}, limit=4)
    return (f"{run_dir}: best {name} {summary['best_metric']:.4f} at epoch {summary['best_metric_epoch']}"
            + (f" (last epoch: {last})" if last else ""))


def run(args: argparse.Namespace) -> int:
    bundle_dir = find_bundle(args.bundle)
    overrides = collect_overrides(args)
    folds = resolve_folds(args.folds, overrides, bundle_dir)
    run_each_fold(bundle_dir, ["train.json"], overrides, folds, verb="train", report=training_report)
    return EXIT_OK
