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
"""Running a bundle once per fold and reading back what the run wrote (summary and metrics), for the console."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from monai_tabular.cli.bundles import run_configs
from monai_tabular.cli.overrides import run_dir_of

__all__ = ["run_each_fold", "read_json", "format_metrics"]


def read_json(path: Path) -> dict | None:
    """A JSON file's content, or ``None`` when it is absent or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def format_metrics(metrics: Mapping[str, Any], limit: int = 8) -> str:
    """``auc 0.8125, accuracy 0.6250, ...`` (numbers only, at most ``limit``).

    Example:
        >>> format_metrics({"auc": 0.8125, "accuracy": 0.625, "mode": "both"})
        'auc 0.8125, accuracy 0.6250'
    """
    items = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ", ".join(f"{k} {v:.4f}" for k, v in items[:limit])


def run_each_fold(bundle_dir: Path, configs: Sequence[str], overrides: Mapping[str, Any],
                  folds: Sequence[int | str] | None, *, verb: str,
                  report: Callable[[Path], str] | None = None) -> list[Path]:
    """Run ``configs`` once per fold (or once, for the fold the overrides name); print one line per fold.

    Returns:
        The run folders, in fold order.
    """
    run_dirs = []
    for fold in folds if folds is not None else [None]:
        fold_overrides = dict(overrides)
        if fold is not None:
            fold_overrides["fold"] = fold
        run_dir = run_dir_of(fold_overrides, bundle_dir)
        print(f"{verb}: bundle {bundle_dir.name}, run folder {run_dir}", flush=True)
        run_configs(bundle_dir, configs, fold_overrides)
        run_dirs.append(run_dir)
        if report is not None:
            print(report(run_dir), flush=True)
    if len(run_dirs) > 1 and report is not None:
        print(f"\n{verb} done for {len(run_dirs)} folds:")
        for run_dir in run_dirs:
            print(f"  {report(run_dir)}")
    return run_dirs
