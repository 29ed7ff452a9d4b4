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
"""Real-data GAAL results: GAAL (both / image_only / table_only), GAAL without surgery, the joint late-fusion
baselines (``fusion``: concatenated embeddings + MLP head; ``late_average``: the fusion registry's per-modality
linear heads averaged, trained jointly), image-only and table-only baselines and logistic regression, one fold
runner call per task.

The baseline rows use ``bundles/image_table_baseline`` with the same overrides (recipe, epochs, batch size,
backbone) as the GAAL rows. ``--reuse-baselines runs/baselines`` copies finished baseline folds trained with
exactly these overrides by ``benchmarks/run_baselines.py`` instead of training them again (the fold runner skips
finished folds); the copy is refused when the saved overrides differ.

    python benchmarks/run_gaal.py --tasks derm7pt --late-average --output-dir runs/gaal --reuse-baselines runs/baselines
    python benchmarks/run_gaal.py --tasks ixi_sex mfeat --output-dir runs/gaal --reuse-baselines runs/baselines
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

from monai_tabular.engines import RunSpec, run_folds

ROOT = Path(__file__).resolve().parents[1]
GAAL = ROOT / "bundles" / "gaal"
BASELINE = ROOT / "bundles" / "image_table_baseline"
MFEAT_VIEWS = ["fou", "fac", "kar", "zer", "mor"]

TASKS = {  # same overrides as benchmarks/run_baselines.py, so its finished baseline folds can be reused
    "mfeat": {"title": "GAAL on mfeat: 10-class digits, 16x15 image + five tabular views (5 folds)",
              "overrides": {"recipe": "mfeat", "epochs": 30, "batch_size": 32,
                            "image_encoder_args": {"width_factor": 0.25, "conv1_t_stride": 1}},
              "gaal": {"table_views": MFEAT_VIEWS}, "folds": [0, 1, 2, 3, 4]},
    "derm7pt": {"title": "GAAL on Derm7pt: MEL vs NEV, 2D dermoscopy + 7-point checklist and metadata (given split)",
                "overrides": {"recipe": "derm7pt/mel_vs_nev", "epochs": 30, "batch_size": 16},
                "gaal": {}, "folds": ["test"]},
    "ixi_sex": {"title": "GAAL on IXI-HH: sex from 3D T1 at 4 mm + clinical table (given 5 folds)",
                "overrides": {"recipe": "ixi_t1_hh/sex", "epochs": 30, "batch_size": 8},
                "gaal": {}, "folds": [0, 1, 2, 3, 4]},
}

BASELINE_MODES = {"fusion": {"both": "both", "image_only": "image_only", "table_only": "table_only"},
                  "image": {"both": "image_only"}, "table": {"both": "table_only"}}


def specs(task: dict, *, late_average: bool = False) -> list[RunSpec]:
    """GAAL, its no-surgery ablation, the baseline rows (joint late fusion, image-only, table-only) and, with
    ``late_average``, the fusion registry's late-average model trained jointly."""
    all_modes = {"both": "both", "image_only": "image_only", "table_only": "table_only"}
    rows = [RunSpec("gaal", GAAL, dict(task["gaal"]), all_modes),
            RunSpec("gaal_no_surgery", GAAL, {**task["gaal"], "surgery": False}, all_modes)]
    rows += [RunSpec(name, BASELINE, {"model": name}, modes) for name, modes in BASELINE_MODES.items()]
    if late_average:  # joint training of GAAL's inference rule: per-modality linear heads, logits averaged
        rows.append(RunSpec("late_average", BASELINE, {"model": "fusion", "fusion": "late_average"},
                            BASELINE_MODES["fusion"]))
    return rows


def reuse_baselines(source: Path, target: Path, overrides: dict, folds: list) -> list[str]:
    """Copy finished baseline folds from ``source`` (a ``run_baselines.py`` task folder) into ``target`` when
    they were trained with the same overrides; returns what was copied."""
    saved = source / "results" / "run.json"
    if not saved.is_file():
        return []
    def comparable(values: dict) -> dict:
        return {k: v for k, v in json.loads(json.dumps(values)).items() if k != "dataset_dir"}

    if comparable(json.loads(saved.read_text()).get("overrides") or {}) != comparable(overrides):
        logging.warning("not reusing %s: its overrides differ from %s", source, overrides)
        return []
    copied = []
    for name, modes in BASELINE_MODES.items():
        for fold in folds:
            run_dir = source / name / f"fold{fold}"
            done = all((run_dir / f"predictions_{mode}.csv").is_file() for mode in modes)
            if done and not (target / name / f"fold{fold}").exists():
                shutil.copytree(run_dir, target / name / f"fold{fold}", ignore=shutil.ignore_patterns("tensorboard"))
                copied.append(f"{name}/fold{fold}")
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--output-dir", default="runs/gaal")
    parser.add_argument("--data-root", default="", help="../shared/data by default")
    parser.add_argument("--reuse-baselines", default="", help="run_baselines.py output folder to copy from")
    parser.add_argument("--late-average", action="store_true", help="add the jointly trained late_average row")
    parser.add_argument("--max-subjects", type=int, default=None, help="subjects per part (quick checks)")
    parser.add_argument("--epochs", type=int, default=None, help="override every task's epochs (quick checks)")
    parser.add_argument("--folds", nargs="+", default=None, help="override the K-fold tasks' folds (quick checks)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.tasks:
        task = TASKS[name]
        overrides = dict(task["overrides"])
        if args.epochs:
            overrides["epochs"] = args.epochs
        if args.max_subjects:
            overrides["max_subjects"] = args.max_subjects
        folds = task["folds"]
        if args.folds is not None and folds != ["test"]:  # a given train/val/test split keeps its test part
            folds = [int(f) for f in args.folds]
        output = Path(args.output_dir) / name
        if args.reuse_baselines:
            copied = reuse_baselines(Path(args.reuse_baselines) / name, output, overrides, folds)
            print(f"{name}: reused baseline folds {copied}", flush=True)
        start = time.perf_counter()
        rows = specs(task, late_average=args.late_average)
        paths = run_folds(bundle_dir=GAAL, output_dir=output, models=rows, folds=folds,
                          overrides=dict(overrides, dataset_dir=args.data_root), title=task["title"],
                          log_config="logging_quiet.conf")
        print(f"{name}: {time.perf_counter() - start:.0f} s -> {paths['markdown']}", flush=True)
        print(paths["markdown"].read_text(), flush=True)


if __name__ == "__main__":
    main()
