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
"""Real-data CFCML runs (with ablations, the baseline bundle's image-only / table-only / fusion rows and logistic
regression) through the fold runner, for docs/results.md.

Derm7pt MEL vs NEV uses the given train/val/test split and the paper's five clinical attributes (the recipe's
``attributes="clinical"``; exported once to ``<output-dir>/derm7pt/data/`` as CSV + spec + folds, since bundles
take recipe options only that way), 2D Swin-T-like encoder. IXI-HH sex uses the given 5 folds, the clinical
table, the nnMamba-like encoder at 4 mm. CPU budget (a shared 2-core machine): small encoders, few epochs, and
only the rows and folds in ``TASKS`` (Derm7pt without the no-MG-CIE row, IXI on folds 0-1 without the fusion
row). Finished folds are skipped, so a stopped run resumes.

    python benchmarks/run_cfcml.py --tasks derm7pt ixi_sex --output-dir runs/cfcml
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import pandas as pd

from monai_tabular.engines import RunSpec, run_folds

REPO = Path(__file__).resolve().parents[1]
CFCML = REPO / "bundles" / "cfcml"
BASELINE = REPO / "bundles" / "image_table_baseline"

DERM7PT_TEMPLATES = {
    "sex": "The patient is {value}.",
    "management": "The clinical management of the lesion is {value}.",
    "location": "The lesion is located on the {value}.",
    "elevation": "The elevation of the lesion is {value}.",
    "level_of_diagnostic_difficulty": "The level of diagnostic difficulty is {value}.",
}
SWIN_SMALL = {"embed_dim": 24, "depths": [1, 1, 2, 1], "num_heads": [1, 2, 4, 8]}
NNMAMBA_SMALL = {"base_channels": 16, "width_factor": 0.5, "mamba_stages": [2, 3]}

TASKS = {
    "derm7pt": {
        "title": "Derm7pt: MEL vs NEV, 2D dermoscopy (64x64) + the five clinical attributes as text (given split)",
        "shared": {"epochs": 15, "batch_size": 16, "image_size": [64, 64], "image_encoder": "swin_t",
                   "image_encoder_args": SWIN_SMALL},
        "cfcml": {"attribute_templates": DERM7PT_TEMPLATES, "interaction_ffn": True},
        "ablations": ["no_ccrm"],
        "baselines": ["image", "table", "fusion"],
        "folds": ["test"],
    },
    "ixi_sex": {
        "title": "IXI-HH: sex from 3D T1 at 4 mm (nnMamba-like) + clinical attributes as text (given folds 0-1 of 5)",
        "shared": {"recipe": "ixi_t1_hh/sex", "epochs": 6, "batch_size": 8, "image_encoder": "nnmamba",
                   "image_encoder_args": NNMAMBA_SMALL},
        "cfcml": {"interaction_ffn": True},
        "ablations": [],
        "baselines": ["image", "table"],
        "folds": [0, 1],
    },
}
BASELINE_MODES = {"image": {"both": "image_only"}, "table": {"both": "table_only"}, "fusion": {"both": "both"}}


def export_derm7pt(folder: Path, data_root: str) -> dict:
    """Write the Derm7pt MEL-vs-NEV recipe with the clinical attributes as CSV + spec + folds; return overrides."""
    from monai_tabular.data.recipes import load_recipe

    recipe = load_recipe("derm7pt", task="mel_vs_nev", attributes="clinical", data_root=data_root or None)
    folder.mkdir(parents=True, exist_ok=True)
    recipe.table.to_csv(folder / "table.csv", index=False)
    (folder / "spec.json").write_text(json.dumps(recipe.spec, indent=2) + "\n")
    pd.DataFrame({"subject_id": list(recipe.folds), "fold": list(recipe.folds.values())}).to_csv(
        folder / "folds.csv", index=False)
    return {"csv": str(folder / "table.csv"), "spec": str(folder / "spec.json"),
            "folds": str(folder / "folds.csv"), "dataset_dir": str(recipe.image_root)}


def specs_for(task: dict) -> list[RunSpec]:
    """CFCML, its ablations, and the baseline bundle's rows with the same image encoder."""
    rows = [RunSpec("cfcml", CFCML, dict(task["cfcml"]))]
    rows += [RunSpec(f"cfcml_{a}", CFCML, {**task["cfcml"], "ablation": a}) for a in task["ablations"]]
    rows += [RunSpec(f"baseline_{m}", BASELINE, {"model": m}, BASELINE_MODES[m]) for m in task["baselines"]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--output-dir", default="runs/cfcml")
    parser.add_argument("--data-root", default="", help="../shared/data by default")
    parser.add_argument("--epochs", type=int, default=None, help="override every task's epochs (quick checks)")
    parser.add_argument("--folds", nargs="+", default=None, help="override the folds (quick checks)")
    parser.add_argument("--max-subjects", type=int, default=None, help="subjects per part (quick checks)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.tasks:
        task = TASKS[name]
        output = Path(args.output_dir) / name
        overrides = dict(task["shared"], dataset_dir=args.data_root)
        if name == "derm7pt":
            overrides.update(export_derm7pt(output / "data", args.data_root))
        if args.epochs:
            overrides["epochs"] = args.epochs
        if args.max_subjects:
            overrides["max_subjects"] = args.max_subjects
        folds = task["folds"] if args.folds is None else [f if not f.isdigit() else int(f) for f in args.folds]
        start = time.perf_counter()
        paths = run_folds(bundle_dir=CFCML, output_dir=output, models=specs_for(task), folds=folds,
                          overrides=overrides, title=task["title"], log_config="logging_quiet.conf")
        print(f"{name}: {time.perf_counter() - start:.0f} s -> {paths['markdown']}", flush=True)
        print(paths["markdown"].read_text(), flush=True)


if __name__ == "__main__":
    main()
