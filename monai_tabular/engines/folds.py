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
"""Fold runner: train and evaluate a bundle on K folds for several models, add the scikit-learn row, and write
one results table (CSV + Markdown with bootstrap CIs and paired tests) and a ROC plot.

Finished folds are skipped, so a stopped run resumes where it stopped (a half-trained fold resumes from its
``last.pt``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from monai_tabular.data import TableSchema
from monai_tabular.metrics import classification_metrics, regression_metrics, write_results

__all__ = ["run_bundle", "run_folds", "MODEL_MODES", "RunSpec", "run_specs"]

logger = logging.getLogger(__name__)

# evaluation modes reported for each baseline model, and the name of the mode in the results table
MODEL_MODES = {"fusion": {"both": "both", "image_only": "image_only", "table_only": "table_only"},
               "image": {"both": "image_only"}, "table": {"both": "table_only"}}


@dataclass(frozen=True)
class RunSpec:
    """One results row group of ``run_folds``: a bundle, its overrides and the evaluation modes to report.

    Args:
        name: row name in the results table (and the run folder ``<output_dir>/<name>/fold<k>``).
        bundle_dir: bundle folder; ``None`` = the ``bundle_dir`` given to ``run_folds``.
        overrides: overrides of this row, applied over the shared ones (e.g. ``{"model": "image"}``).
        modes: ``{eval_mode: shown_mode}``: each ``eval_mode`` is passed to ``evaluate.json`` (which writes
            ``predictions_<eval_mode>.csv``) and reported as ``shown_mode`` (``both``/``image_only``/``table_only``).

    Example:
        >>> RunSpec("charms", bundle_dir="bundles/charms", modes={"both": "image_only"}).modes
        {'both': 'image_only'}
    """

    name: str
    bundle_dir: str | Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    modes: Mapping[str, str] = field(default_factory=lambda: {"both": "both"})


def run_specs(models: Sequence[str] | Mapping[str, Mapping[str, Any]] | Sequence[RunSpec]) -> list[RunSpec]:
    """Normalise ``run_folds``'s ``models``: baseline model names, ``RunSpec`` objects, or a mapping
    ``{name: {"bundle_dir": ..., "overrides": {...}, "modes": {...}}}`` (as written in a JSON/YAML plan).

    Example:
        >>> [(s.name, dict(s.overrides), dict(s.modes)) for s in run_specs(["image"])]
        [('image', {'model': 'image'}, {'both': 'image_only'})]
    """
    if isinstance(models, Mapping):
        specs = []
        for name, entry in models.items():
            unknown = sorted(set(entry) - {"bundle_dir", "overrides", "modes"})
            if unknown:
                raise ValueError(f"run {name!r} has unknown key(s) {unknown}; allowed: bundle_dir, overrides, modes")
            specs.append(RunSpec(name, entry.get("bundle_dir"), dict(entry.get("overrides") or {}),
                                 dict(entry.get("modes") or {"both": "both"})))
        return specs
    specs = []
    for model in models:
        if isinstance(model, RunSpec):
            specs.append(model)
        elif model in MODEL_MODES:
            specs.append(RunSpec(model, None, {"model": model}, MODEL_MODES[model]))
        else:
            raise ValueError(f"unknown model {model!r}; the baseline bundle has {list(MODEL_MODES)}; pass a RunSpec "
                             "or a mapping for another bundle")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"run names must be unique, got {names}")
    return specs


def run_bundle(bundle_dir: str | Path, configs: Sequence[str], overrides: Mapping[str, Any] | None = None, *,
               log_config: str = "logging.conf") -> None:
    """Run a bundle's configs (merged in order) in this process, like ``python -m monai.bundle run``.

    ``log_config`` names the bundle's logging file (``"logging_quiet.conf"`` logs warnings only).

    Example:
        >>> run_bundle("bundles/image_table_baseline", ["train.json"], {"epochs": 1})   # doctest: +SKIP
    """
    from monai.bundle import run

    bundle_dir = Path(bundle_dir)
    files = [str(bundle_dir / "configs" / name) for name in configs]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"bundle config(s) {missing} do not exist")
    logging_file = bundle_dir / "configs" / log_config
    run(run_id="run", init_id="initialize", final_id="finalize", meta_file=str(bundle_dir / "configs/metadata.json"),
        config_file=files, logging_file=str(logging_file) if logging_file.is_file() else None,
        **dict(overrides or {}))


def _predictions(path: Path, *, method: str, mode: str, fold: Any) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"subject_id": str})
    frame["method"], frame["mode"], frame["fold"] = method, mode, fold
    return frame


def _metrics_row(frame: pd.DataFrame, task: str) -> dict[str, float]:
    if task == "classification":
        probs = [c for c in frame.columns if c.startswith("prob_")]
        names = [c[len("prob_"):] for c in probs]
        y = frame["label"].astype(str).map({n: i for i, n in enumerate(names)}).to_numpy()
        return classification_metrics(y, frame[probs].to_numpy())
    return regression_metrics(frame["label"].to_numpy(float), frame["pred"].to_numpy(float))


def run_folds(
    *,
    bundle_dir: str | Path,
    output_dir: str | Path,
    models: Sequence[str] = ("fusion", "image", "table"),
    folds: Sequence[int | str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    sklearn_methods: Sequence[str] = ("logistic_regression",),
    title: str = "Results",
    n_boot: int = 1000,
    results_dir: str | Path | None = None,
    log_config: str = "logging.conf",
) -> dict[str, Path]:
    """Train + evaluate ``models`` on ``folds`` and write ``results.csv``, ``results.md`` and ``roc.png``.

    Each model trains in ``<output_dir>/<model>/fold<k>`` and is evaluated on the fold's test part in each of its
    modes (fusion: both, image_only, table_only). The scikit-learn rows (``logistic_regression``: logistic or ridge
    regression; ``gradient_boosting``) use the same table, schema and split. The table reports the metrics of the
    predictions pooled over folds with bootstrap CIs and a paired test of AUC against logistic regression.

    Args:
        bundle_dir: bundle folder (``configs/train.json`` and ``configs/evaluate.json``).
        output_dir: where runs and results go.
        models: values of the baseline bundle's ``model`` key (``fusion``, ``image``, ``table``), or
            ``RunSpec`` objects / a ``{name: {"bundle_dir", "overrides", "modes"}}`` mapping for method bundles;
            each bundle's ``evaluate.json`` takes ``eval_mode`` and writes ``predictions_<eval_mode>.csv``.
        folds: fold ids (default: the 5 folds ``0..4``, or ``["test"]`` for a fixed train/val/test split: pass it).
        overrides: bundle overrides shared by every run (``recipe``, ``csv``, ``epochs`` ...).
        sklearn_methods: table-only scikit-learn rows.
        title: heading of the results.
        results_dir: default ``<output_dir>/results``.
        log_config: the bundle's logging file for every run (``"logging_quiet.conf"``: warnings only).

    Example:
        >>> run_folds(bundle_dir="bundles/image_table_baseline", output_dir="runs/synthetic", folds=[0, 1],
        ...           overrides={"epochs": 5})   # doctest: +SKIP
    """
    from monai_tabular.engines.baselines import sklearn_table_baseline
    from monai_tabular.engines.setup import load_json

    bundle_dir, output_dir = Path(bundle_dir), Path(output_dir)
    overrides = dict(overrides or {})
    folds = list(folds) if folds is not None else list(range(int(overrides.get("n_folds", 5))))
    specs = run_specs(models)
    predictions, rows, task = [], [], "classification"
    for fold in folds:
        for spec in specs:
            model_dir = output_dir / spec.name
            run_dir = model_dir / f"fold{fold}"
            spec_bundle = Path(spec.bundle_dir) if spec.bundle_dir else bundle_dir
            settings = {**overrides, **spec.overrides, "fold": fold, "output_dir": str(model_dir)}
            if not all((run_dir / f"predictions_{mode}.csv").is_file() for mode in spec.modes):
                if not (run_dir / "summary.json").is_file():
                    logger.info("training %s on fold %s", spec.name, fold)
                    run_bundle(spec_bundle, ["train.json"], settings, log_config=log_config)
                for mode in spec.modes:
                    run_bundle(spec_bundle, ["train.json", "evaluate.json"], {**settings, "eval_mode": mode},
                               log_config=log_config)
            for mode, shown in spec.modes.items():
                frame = _predictions(run_dir / f"predictions_{mode}.csv", method=spec.name, mode=shown, fold=fold)
                predictions.append(frame)
        split = load_json(output_dir / specs[0].name / f"fold{fold}" / "split.json")
        schema = TableSchema.load(output_dir / specs[0].name / f"fold{fold}" / "schema.json")
        task = schema.task
        for method in sklearn_methods:
            frame = sklearn_table_baseline(schema, split["train"], split["test"] or split["val"], method=method)
            frame["method"], frame["mode"], frame["fold"] = method, "table_only", fold
            predictions.append(frame)
    pooled = pd.concat(predictions, ignore_index=True)
    for (method, mode, fold), part in pooled.groupby(["method", "mode", "fold"], sort=False):
        rows.append({"method": method, "mode": mode, "fold": fold, **_metrics_row(part, task)})
    if task == "classification":
        probs = [c for c in pooled.columns if c.startswith("prob_")]
        if len(probs) == 2:  # binary: label 0/1 and P(positive); the positive class is the last one
            pooled["prob"] = pooled[probs[-1]]
            pooled["label"] = (pooled["label"].astype(str) == probs[-1][len("prob_"):]).astype(int)
    results_dir = Path(results_dir) if results_dir else output_dir / "results"
    baseline = "logistic_regression" if "logistic_regression" in sklearn_methods else None
    paths = write_results(pd.DataFrame(rows), results_dir, title=title, predictions=pooled, baseline=baseline,
                          overwrite=True, ci="bootstrap", key="auc" if task == "classification" else "mae",
                          n_boot=n_boot)
    pooled.to_csv(results_dir / "predictions.csv", index=False)
    runs = {s.name: {"bundle_dir": str(s.bundle_dir or bundle_dir), "overrides": dict(s.overrides),
                     "modes": dict(s.modes)} for s in specs}
    (results_dir / "run.json").write_text(json.dumps({"bundle": str(bundle_dir), "models": [s.name for s in specs],
                                                      "runs": runs,
                                                      "folds": [str(f) for f in folds], "overrides": overrides},
                                                     indent=2, default=str) + "\n")
    return paths
