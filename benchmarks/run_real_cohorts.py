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
"""Real cohorts for issue 14: regression, survival, class imbalance and missing modalities with the baseline bundle.

Tasks (each writes ``<output-dir>/<task>/results/results.md``):

* ``gbsg2``, ``whas500``: tabular survival sets shipped with scikit-survival, through the bundle's table path
  (MLP; Cox partial likelihood and discrete-time logistic hazard) vs a Cox proportional-hazards model
  (scikit-survival, Breslow ties) on the same 5 folds; Harrell's/Uno's C, time-dependent AUC, IBS with CIs.
* ``synthetic_survival``: image + table survival on the synthetic cohort whose hazard depends on both;
  fusion vs image-only vs table-only models vs CoxPH on the table.
* ``derm7pt``: MEL vs NEV (imbalanced) balanced accuracy with and without class weights / balanced sampler /
  focal loss / a Youden threshold chosen on validation; the missing-modality curve (0-100% of test images or
  tables dropped) for fusion trained with and without modality dropout, vs image-only and table-only models.
* ``ixi_age``: IXI-HH age regression, image + clinical fusion (given folds) vs ridge on clinical and on
  clinical + DLMUSE ROI volumes.

    python benchmarks/run_real_cohorts.py --tasks gbsg2 whas500 synthetic_survival derm7pt ixi_age \\
        --output-dir runs/issue14
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from monai_tabular.engines import RunSpec, load_json, run_bundle, run_folds

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "image_table_baseline"
QUIET = "logging_quiet.conf"
FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
EXTRA: dict = {}  # overrides of every run (``--max-subjects`` for quick checks)


# ----------------------------------------------------------------------------------------------- bundle runs
def train_and_evaluate(run_root: Path, fold, overrides: dict, evaluations: dict[str, dict]) -> Path:
    """Train once (skipped when finished) and run each named evaluation whose metrics file is missing."""
    settings = {**overrides, **EXTRA, "fold": fold, "output_dir": str(run_root)}
    run_dir = run_root / f"fold{fold}"
    if not (run_dir / "summary.json").is_file():
        run_bundle(BUNDLE, ["train.json"], settings, log_config=QUIET)
    for tag, extra in evaluations.items():
        mode = extra.get("eval_mode", "both")
        if not (run_dir / f"metrics_{mode}{tag}.json").is_file():
            run_bundle(BUNDLE, ["train.json", "evaluate.json"], {**settings, "eval_tag": tag, **extra},
                       log_config=QUIET)
    return run_dir


# ----------------------------------------------------------------------------------------------- survival
def _write_sksurv(name: str, folder: Path) -> tuple[Path, Path]:
    from sksurv.datasets import load_gbsg2, load_whas500

    x, y = {"gbsg2": load_gbsg2, "whas500": load_whas500}[name]()
    frame = x.copy()
    event_field, time_field = y.dtype.names
    frame.insert(0, "subject_id", [f"{name}-{i:04d}" for i in range(len(frame))])
    frame["time"], frame["event"] = y[time_field], y[event_field].astype(int)
    folder.mkdir(parents=True, exist_ok=True)
    csv, spec = folder / f"{name}.csv", folder / f"{name}_spec.json"
    frame.to_csv(csv, index=False)
    spec.write_text(json.dumps({"subject_id": "subject_id", "task": "survival", "time": "time", "event": "event"}))
    return csv, spec


def _coxph(run_dir: Path) -> pd.DataFrame:
    """CoxPH (scikit-survival, Breslow, a tiny ridge for stability) on the run's training rows -> test risks."""
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    from monai_tabular.data import TableSchema
    from monai_tabular.engines.baselines import table_design_matrix
    from monai_tabular.metrics.survival import as_survival_array

    schema = TableSchema.load(run_dir / "schema.json")
    split = load_json(run_dir / "split.json")
    test = split["test"] or split["val"]
    time_col, event_col = schema.survival["time"], schema.survival["event"]

    def target(records):
        return as_survival_array([float(r[time_col]) for r in records],
                                 [schema.encode_label(r[event_col], column=event_col) for r in records])

    x_train, x_test = table_design_matrix(schema, split["train"]), table_design_matrix(schema, test)
    keep = x_train.std(0) > 0
    model = CoxPHSurvivalAnalysis(alpha=1e-2, ties="breslow").fit(x_train[:, keep], target(split["train"]))
    y = target(test)
    frame = pd.DataFrame({"subject_id": [r["subject_id"] for r in test], "time": y["time"],
                          "event": y["event"].astype(int), "risk": model.predict(x_test[:, keep])})
    # survival curves at the discrete-time model's interval ends, for the integrated Brier score
    functions = model.predict_survival_function(x_test[:, keep])
    for end in schema.label_stats[time_col]["cuts"][1:]:
        frame[f"surv_{end:.4g}"] = [float(f(np.clip(end, f.domain[0], f.domain[1]))) for f in functions]
    return frame


def _train_survival(run_dir: Path) -> tuple[list[float], list[float]]:
    from monai_tabular.data import TableSchema

    schema = TableSchema.load(run_dir / "schema.json")
    train = load_json(run_dir / "split.json")["train"]
    t, e = schema.survival["time"], schema.survival["event"]
    return [float(r[t]) for r in train], [schema.encode_label(r[e], column=e) for r in train]


def survival_table(per_fold: dict[str, list[tuple[pd.DataFrame, tuple]]], *, baseline: str, n_boot: int = 200,
                   seed: int = 0) -> pd.DataFrame:
    """Per method: fold-averaged metrics with percentile bootstrap CIs (subjects resampled within each fold) and
    the paired difference in Harrell's C against ``baseline`` (same resamples)."""
    from monai_tabular.metrics.survival import evaluation_times, survival_metrics

    rng = np.random.default_rng(seed)
    n_folds = len(next(iter(per_fold.values())))
    sizes = [len(per_fold[baseline][k][0]) for k in range(n_folds)]
    draws = [[np.arange(n) for n in sizes]] + [[rng.integers(0, n, n) for n in sizes] for _ in range(n_boot)]
    values: dict[str, np.ndarray] = {}
    for method, folds in per_fold.items():
        scores = np.full((len(draws), 4), np.nan)
        for b, draw in enumerate(draws):
            fold_values = []
            for (frame, (train_time, train_event)), index in zip(folds, draw):
                part = frame.iloc[index]
                curves = [c for c in part.columns if c.startswith("surv_")]
                grid = evaluation_times(frame["time"], frame["event"], train_time=train_time)
                m = survival_metrics(part["time"], part["event"], part["risk"], train_time=train_time,
                                     train_event=train_event, times=grid,
                                     survival=part[curves].to_numpy() if curves else None,
                                     curve_times=[float(c[5:]) for c in curves] if curves else None)
                fold_values.append([m["cindex"], m["cindex_uno"], m["td_auc"], m["ibs"]])
            scores[b] = np.nanmean(np.array(fold_values, dtype=float), axis=0) if fold_values else np.nan
        values[method] = scores
    rows = []
    for method, scores in values.items():
        row = {"method": method, "folds": n_folds, "n": int(sum(sizes))}
        for j, key in enumerate(("cindex_harrell", "cindex_uno", "td_auc", "ibs")):
            estimate, boot = scores[0, j], scores[1:, j][np.isfinite(scores[1:, j])]
            row[key] = "n/a" if not np.isfinite(estimate) else \
                f"{estimate:.3f} [{np.percentile(boot, 2.5):.3f}, {np.percentile(boot, 97.5):.3f}]"
        if method == baseline:
            row["Δ C vs " + baseline], row["p"] = "(baseline)", ""
        else:
            diff = scores[:, 0] - values[baseline][:, 0]
            boot = diff[1:][np.isfinite(diff[1:])]
            p = min(1.0, 2 * min((boot <= 0).mean(), (boot >= 0).mean()))
            row["Δ C vs " + baseline] = f"{diff[0]:+.3f} [{np.percentile(boot, 2.5):+.3f}, " \
                                        f"{np.percentile(boot, 97.5):+.3f}]"
            row["p"] = f"{p:.3g} (bootstrap)" if p > 0 else f"<{1 / len(boot):.2g} (bootstrap)"
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |\n| " + " | ".join("---" for _ in frame.columns) + " |\n"
    return header + "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in frame.itertuples(index=False))


def run_survival(task: str, output_dir: Path, epochs: int, folds: list[int]) -> Path:
    if task == "synthetic_survival":
        shared = {"synthetic": {"n_subjects": 300, "spatial_dims": 2, "image_size": [32, 32], "seed": 0,
                                "task": "survival", "root": str(output_dir / "cohort")},
                  "epochs": epochs, "batch_size": 32, "check_images": "exists"}
        models = {"fusion_cox": {"model": "fusion"}, "image_cox": {"model": "image"},
                  "table_cox": {"model": "table"},
                  "fusion_logistic_hazard": {"model": "fusion", "survival_loss": "logistic_hazard"}}
        title = "Synthetic cohort (300 subjects, 2D 32x32): survival with a hazard from image and table"
    else:
        csv, spec = _write_sksurv(task, output_dir / "data")
        shared = {"csv": str(csv), "spec": str(spec), "model": "table", "epochs": epochs, "batch_size": 64,
                  "table_encoder_args": {"hidden_dims": [64, 64]}}
        models = {"mlp_cox": {}, "mlp_logistic_hazard": {"survival_loss": "logistic_hazard"}}
        title = f"{task.upper()} (scikit-survival's copy): tabular survival, 5 seeded subject-wise folds"
    per_fold: dict[str, list] = {name: [] for name in [*models, "coxph"]}
    for fold in folds:
        for name, extra in models.items():
            run_dir = train_and_evaluate(output_dir / name, fold, {**shared, **extra}, {"": {}})
            frame = pd.read_csv(run_dir / "predictions_both.csv")
            per_fold[name].append((frame, _train_survival(run_dir)))
        first = output_dir / next(iter(models)) / f"fold{fold}"
        per_fold["coxph"].append((_coxph(first), _train_survival(first)))
    table = survival_table(per_fold, baseline="coxph")
    if task == "synthetic_survival":  # fusion must beat each single modality: paired against the best one
        versus_image = survival_table(per_fold, baseline="image_cox")
        table["Δ C vs image_cox"], table["p vs image_cox"] = versus_image["Δ C vs image_cox"], versus_image["p"]
    results = output_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    table.to_csv(results / "results.csv", index=False)
    text = (f"## {title}\n\n{_markdown(table)}\nEach cell: mean over {len(folds)} test folds "
            "[95% percentile bootstrap CI, subjects resampled within each fold, 200 resamples]. Harrell's and "
            "Uno's C-index; td_auc: mean cumulative/dynamic AUC at the 10-70% quantiles of the test event times; "
            "ibs: integrated Brier score (discrete-time models, and CoxPH with its Breslow baseline). Δ C: paired "
            "difference of Harrell's "
            f"C with CoxPH (scikit-survival, Breslow ties, ridge 1e-2) on the same folds.\n\nSettings: "
            f"`{json.dumps({k: v for k, v in shared.items() if k not in ('csv', 'spec')})}`, rows "
            f"`{json.dumps(models)}`.\n")
    (results / "results.md").write_text(text)
    from monai_tabular.handlers.survival import write_risk_group_plot

    best = next(iter(models))
    write_risk_group_plot(output_dir / best / f"fold{folds[0]}" / "predictions_both.csv",
                          results / f"km_{best}_fold{folds[0]}.png", title=f"{task}: {best}, fold {folds[0]}")
    return results / "results.md"


# ----------------------------------------------------------------------------------------------- derm7pt
def run_derm7pt(output_dir: Path, epochs: int) -> Path:
    shared = {"recipe": "derm7pt/mel_vs_nev", "epochs": epochs, "batch_size": 16, **EXTRA}
    fusion_modes = {"both": "both", "image_only": "image_only", "table_only": "table_only"}
    specs = [RunSpec("fusion", BUNDLE, {"model": "fusion"}, fusion_modes),
             RunSpec("fusion_class_weights", BUNDLE, {"model": "fusion", "class_weights": True}),
             RunSpec("fusion_balanced_sampler", BUNDLE, {"model": "fusion", "balanced_sampler": True}),
             RunSpec("fusion_focal", BUNDLE, {"model": "fusion", "focal_gamma": 2.0}),
             RunSpec("fusion_modality_dropout", BUNDLE, {"model": "fusion", "modality_dropout": 0.5}, fusion_modes),
             RunSpec("image", BUNDLE, {"model": "image"}, {"both": "image_only"}),
             RunSpec("table", BUNDLE, {"model": "table"}, {"both": "table_only"})]
    paths = run_folds(bundle_dir=BUNDLE, output_dir=output_dir, models=specs, folds=["test"], overrides=shared,
                      title="Derm7pt MEL vs NEV (given split): imbalance options and modality dropout",
                      log_config=QUIET)
    rows, curve = [], []
    for spec in specs[:5]:
        run_dir = train_and_evaluate(output_dir / spec.name, "test", {**shared, **spec.overrides},
                                     {"_youden": {"youden_threshold": True}})
        plain = load_json(run_dir / "metrics_both.json")["metrics"]
        youden = load_json(run_dir / "metrics_both_youden.json")
        rows.append({"method": spec.name, "auc": f"{plain['auc']:.3f}",
                     "balanced_accuracy @0.5": f"{plain['balanced_accuracy']:.3f}",
                     "sensitivity @0.5": f"{plain['sensitivity']:.3f}",
                     "balanced_accuracy @Youden(val)": f"{youden['metrics']['balanced_accuracy']:.3f}",
                     "sensitivity @Youden(val)": f"{youden['metrics']['sensitivity']:.3f}",
                     "threshold": f"{youden['threshold']:.3f}"})
    for name in ("fusion", "fusion_modality_dropout"):
        evaluations = {}
        for fraction in FRACTIONS:
            percent = int(round(100 * fraction))
            evaluations[f"_dropimg{percent}"] = {"drop_image_fraction": fraction}
            evaluations[f"_droptab{percent}"] = {"drop_table_fraction": fraction}
        run_dir = train_and_evaluate(output_dir / name, "test", {**shared, **dict(specs[0 if name == "fusion"
                                                                                   else 4].overrides)}, evaluations)
        for fraction in FRACTIONS:
            percent = int(round(100 * fraction))
            for modality, tag in (("image", "dropimg"), ("table", "droptab")):
                metrics = load_json(run_dir / f"metrics_both_{tag}{percent}.json")["metrics"]
                curve.append({"model": name, "dropped": modality, "percent_missing": percent,
                              "auc": metrics["auc"], "balanced_accuracy": metrics["balanced_accuracy"]})
    references = {}
    for name in ("image", "table"):
        metrics = load_json(output_dir / name / "foldtest" / "metrics_both.json")["metrics"]
        references[name] = metrics["auc"]
    results = paths["markdown"].parent
    curve_frame = pd.DataFrame(curve)
    curve_frame.to_csv(results / "missing_modality_curve.csv", index=False)
    wide = curve_frame.pivot_table(index=["model", "dropped"], columns="percent_missing", values="auc")
    wide.columns = [f"AUC {c}% missing" for c in wide.columns]
    _plot_curve(curve_frame, references, results / "missing_modality_curve.png")
    text = paths["markdown"].read_text()
    text += ("\n### Imbalance options (fusion, test split)\n\n" + _markdown(pd.DataFrame(rows)) +
             "\nThresholded metrics at 0.5 and at the Youden threshold chosen on the validation split.\n"
             "\n### Missing-modality curve (test AUC; a seeded fraction of test subjects loses its image or its "
             "table)\n\n" + _markdown(wide.reset_index().round(3)) +
             f"\nReferences: image-only model AUC {references['image']:.3f}, table-only model AUC "
             f"{references['table']:.3f}.\n\n![missing-modality curve](missing_modality_curve.png)\n")
    paths["markdown"].write_text(text)
    return paths["markdown"]


def _plot_curve(curve: pd.DataFrame, references: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for axis, modality in zip(axes, ("image", "table")):
        for model, part in curve[curve["dropped"] == modality].groupby("model"):
            axis.plot(part["percent_missing"], part["auc"], marker="o", label=model)
        other = "table" if modality == "image" else "image"
        axis.axhline(references[other], ls="--", color="grey", label=f"{other}-only model")
        axis.set_xlabel(f"% of test subjects without their {modality}")
        axis.set_title(f"{modality} dropped")
    axes[0].set_ylabel("AUC")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# ----------------------------------------------------------------------------------------------- IXI age
def run_ixi_age(output_dir: Path, epochs: int, folds: list[int]) -> Path:
    from monai_tabular.data import TableSchema, build_datalist
    from monai_tabular.data.recipes import load_recipe
    from monai_tabular.engines.baselines import sklearn_table_baseline
    from monai_tabular.metrics import regression_metrics

    shared = {"recipe": "ixi_t1_hh/age", "epochs": epochs, "batch_size": 8, **EXTRA}
    specs = [RunSpec("fusion", BUNDLE, {"model": "fusion"}, {"both": "both"})]
    paths = run_folds(bundle_dir=BUNDLE, output_dir=output_dir, models=specs, folds=folds, overrides=shared,
                      title="IXI-HH age (years): 3D T1 at 4 mm + clinical table (given folds)", log_config=QUIET)
    recipe = load_recipe("ixi_t1_hh/age", table="clinical+dlmuse")
    records = {r["subject_id"]: r for r in build_datalist(recipe.table, TableSchema.from_table(recipe.table,
                                                                                              recipe.spec),
                                                          image_root=recipe.image_root, check_images="none")}
    frames = []
    for fold in folds:
        split = load_json(output_dir / "fusion" / f"fold{fold}" / "split.json")
        train = [records[r["subject_id"]] for r in split["train"]]
        test = [records[r["subject_id"]] for r in split["test"] or split["val"]]
        schema = TableSchema.from_table(recipe.table, recipe.spec)
        schema.fit(recipe.table[recipe.table[schema.subject_id].astype(str).isin({r["subject_id"] for r in train})])
        frames.append(sklearn_table_baseline(schema, train, test, method="logistic_regression"))
    pooled = pd.concat(frames)
    anchor = regression_metrics(pooled["label"].to_numpy(float), pooled["pred"].to_numpy(float))
    text = paths["markdown"].read_text() + (
        f"\nRidge on clinical + DLMUSE ROI volumes, same train/test subjects: MAE {anchor['mae']:.2f} y, "
        f"R2 {anchor['r2']:.3f} (pooled over {len(folds)} folds).\n")
    paths["markdown"].write_text(text)
    return paths["markdown"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tasks = ["gbsg2", "whas500", "synthetic_survival", "derm7pt", "ixi_age"]
    parser.add_argument("--tasks", nargs="+", default=tasks, choices=tasks)
    parser.add_argument("--output-dir", default="runs/issue14")
    parser.add_argument("--epochs", type=int, default=None, help="override every task's epochs (quick checks)")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-subjects", type=int, default=None, help="subjects per part (quick checks)")
    args = parser.parse_args()
    global EXTRA
    EXTRA = {"max_subjects": args.max_subjects, "batch_size": 8} if args.max_subjects else {}
    logging.basicConfig(level=logging.WARNING)
    default_epochs = {"gbsg2": 40, "whas500": 40, "synthetic_survival": 20, "derm7pt": 30, "ixi_age": 20}
    for task in args.tasks:
        start = time.perf_counter()
        output_dir = Path(args.output_dir) / task
        epochs = args.epochs or default_epochs[task]
        if task == "derm7pt":
            path = run_derm7pt(output_dir, epochs)
        elif task == "ixi_age":
            path = run_ixi_age(output_dir, epochs, args.folds)
        else:
            path = run_survival(task, output_dir, epochs, args.folds)
        print(f"{task}: {time.perf_counter() - start:.0f} s -> {path}", flush=True)
        print(path.read_text(), flush=True)


if __name__ == "__main__":
    main()
