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
"""Real-data MT-CMTM runs: per fold, pretrain on the fold's training split (images + table, and the no-image
ablation), then fine-tune table-only models through the fold runner next to the same encoder from scratch and the
scikit-learn rows (logistic/ridge regression, gradient boosting, MLP).

Pretraining never sees the validation or test subjects of the fold it is used for. Finished pretraining runs and
folds are skipped, so a stopped run resumes.

    python benchmarks/run_mtcmtm.py --tasks ixi_sex_clinical ixi_sex_dlmuse derm7pt --output-dir runs/mtcmtm
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from monai_tabular.data.recipes import load_recipe
from monai_tabular.engines import RunSpec, run_bundle, run_folds

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
PRETRAIN, FINETUNE = BUNDLES / "mtcmtm_pretrain", BUNDLES / "mtcmtm_finetune"
IXI_FOLDS = [0, 1, 2, 3, 4]
# CPU budget (2 shared cores, ~25 min for all tasks): an eighth-width ResNet-10 and a small 1D-ResNet-CBAM
TABLE_ENCODER = {"table_encoder_args": {"embedding_dim": 16, "channels": [16, 32]}}
IXI_PRETRAIN = {"epochs": 12, "batch_size": 16, "image_encoder": "resnet10",
                "image_encoder_args": {"width_factor": 0.125}, **TABLE_ENCODER}
FINETUNE_SETTINGS = {"epochs": 20, "batch_size": 16, **TABLE_ENCODER}

TASKS = {
    "ixi_sex_clinical": {"title": "IXI-HH sex from the clinical table only; MT-CMTM pretrained with 3D T1 at 4 mm",
                         "recipe": ("ixi_t1_hh/sex", {}), "folds": IXI_FOLDS, "pretrain": IXI_PRETRAIN},
    "ixi_sex_dlmuse": {"title": "IXI-HH sex from the DLMUSE volumes only; MT-CMTM pretrained with 3D T1 at 4 mm",
                       "recipe": ("ixi_t1_hh/sex", {"table": "dlmuse"}), "folds": IXI_FOLDS, "pretrain": IXI_PRETRAIN},
    "ixi_age_clinical": {"title": "IXI-HH age from the clinical table only; MT-CMTM pretrained with 3D T1 at 4 mm",
                         "recipe": ("ixi_t1_hh/age", {}), "folds": IXI_FOLDS, "pretrain": IXI_PRETRAIN},
    "ixi_age_dlmuse": {"title": "IXI-HH age from the DLMUSE volumes only; MT-CMTM pretrained with 3D T1 at 4 mm",
                       "recipe": ("ixi_t1_hh/age", {"table": "dlmuse"}), "folds": IXI_FOLDS, "pretrain": IXI_PRETRAIN},
    "derm7pt": {"title": "Derm7pt MEL vs NEV from the table only (7-point + metadata); MT-CMTM pretrained with "
                         "dermoscopy (given split)",
                "recipe": ("derm7pt/mel_vs_nev", {}), "folds": ["test"],
                "pretrain": {"epochs": 12, "batch_size": 32, "image_encoder": "resnet10",
                             "image_encoder_args": {"width_factor": 0.125}, **TABLE_ENCODER}},
    "mfeat": {"title": "mfeat digits from the Fourier view only; MT-CMTM pretrained with the 16x15 pixel image",
              "recipe": ("mfeat", {"views": ["fou"]}), "folds": [0, 1, 2, 3, 4],
              "pretrain": {"epochs": 10, "batch_size": 64, "image_encoder": "resnet10",
                           "image_encoder_args": {"width_factor": 0.25, "conv1_t_stride": 1}, **TABLE_ENCODER},
              "finetune": {"epochs": 20, "batch_size": 64, **TABLE_ENCODER}},
}


def data_overrides(name: str, options: dict, folder: Path, data_root: str) -> dict:
    """Bundle overrides for a recipe: its name, or (recipes with options) the recipe written as CSV + spec + folds."""
    if not options:
        return {"recipe": name, "dataset_dir": data_root}
    recipe = load_recipe(name, data_root=data_root or None, **options)
    folder.mkdir(parents=True, exist_ok=True)
    recipe.table.to_csv(folder / "table.csv", index=False)
    (folder / "spec.json").write_text(json.dumps(recipe.spec, indent=1))
    (folder / "folds.csv").write_text("subject_id,fold\n" + "".join(f"{s},{f}\n" for s, f in recipe.folds.items()))
    return {"csv": str(folder / "table.csv"), "spec": str(folder / "spec.json"), "folds": str(folder / "folds.csv"),
            "dataset_dir": str(recipe.image_root)}


def pretrain(output_dir: Path, fold, settings: dict) -> None:
    """One pretraining run (skipped when its summary says it finished)."""
    summary = output_dir / f"fold{fold}" / "pretrain_summary.json"
    if summary.is_file() and json.loads(summary.read_text())["epoch"] >= settings["epochs"]:
        return
    start = time.perf_counter()
    run_bundle(PRETRAIN, ["train.json"], {**settings, "fold": fold, "output_dir": str(output_dir)},
               log_config="logging_quiet.conf")
    print(f"  pretrained {output_dir.name} fold {fold}: {time.perf_counter() - start:.0f} s "
          f"{json.loads(summary.read_text())['last_loss_terms']}", flush=True)


def run_task(name: str, output_dir: Path, data_root: str, epochs: int | None, folds: list | None) -> Path:
    task = TASKS[name]
    out = output_dir / name
    recipe, options = task["recipe"]
    data = data_overrides(recipe, options, out / "data", data_root)
    folds = folds if folds is not None else task["folds"]
    pre = dict(task["pretrain"], **data)
    fine = dict(task.get("finetune", FINETUNE_SETTINGS), **data)
    if epochs:
        pre["epochs"] = fine["epochs"] = epochs
    for fold in folds:
        pretrain(out / "pretrain_image", fold, pre)
        pretrain(out / "pretrain_no_image", fold, {**pre, "use_image": False})
    table_only = {"table_only": "table_only"}
    specs = [RunSpec("mtcmtm", FINETUNE, {"pretrained_dir": str(out / "pretrain_image")}, table_only),
             RunSpec("mtcmtm_linear_probe", FINETUNE, {"pretrained_dir": str(out / "pretrain_image"),
                                                       "linear_probe": True}, table_only),
             RunSpec("no_image_ablation", FINETUNE, {"pretrained_dir": str(out / "pretrain_no_image")}, table_only),
             RunSpec("scratch", FINETUNE, {}, table_only)]
    paths = run_folds(bundle_dir=FINETUNE, output_dir=out, models=specs, folds=folds, overrides=fine,
                      sklearn_methods=("logistic_regression", "gradient_boosting", "mlp"), title=task["title"],
                      log_config="logging_quiet.conf")
    return paths["markdown"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["ixi_sex_clinical", "ixi_sex_dlmuse", "derm7pt"],
                        choices=list(TASKS))
    parser.add_argument("--output-dir", default="runs/mtcmtm")
    parser.add_argument("--data-root", default="", help="../shared/data by default")
    parser.add_argument("--epochs", type=int, default=None, help="override every epoch count (quick checks)")
    parser.add_argument("--folds", nargs="+", default=None, help="only these folds (quick checks)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    folds = None if args.folds is None else [int(f) if f.isdigit() else f for f in args.folds]
    for name in args.tasks:
        start = time.perf_counter()
        markdown = run_task(name, Path(args.output_dir), args.data_root, args.epochs, folds)
        print(f"{name}: {time.perf_counter() - start:.0f} s -> {markdown}", flush=True)
        print(markdown.read_text(), flush=True)


if __name__ == "__main__":
    main()
