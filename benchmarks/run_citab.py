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
"""CITab on IXI-HH in a cross-table setting: pretrain on disjoint cohorts with different columns, fine-tune on sex.

Per fold k, the pretraining subjects are the fold's training + validation subjects (label-free); the fold's test
subjects are never seen in pretraining. They are split into three disjoint cohorts with different, shuffled column
sets (clinical; DLMUSE region volumes + a few clinical columns; another subset). ``qualification_id`` is in no
pretraining cohort, so the fine-tuning table (the IXI clinical table) has a column never seen in pretraining (listed
in each fine-tuning run's ``pretrained_report.json``). The sex label is in no pretraining table.

Fine-tuning (``citab_finetune``) uses the given 5 folds with 100% and 20% of the training labels (one
``run_folds`` call each, so the logistic-regression row uses the same subjects); rows: CITab pretrained, the same
model from scratch, optionally the ablations (no header embedding, plain FFN instead of P-MoLin; each its own
pretraining) and linear probing.

    python benchmarks/run_citab.py --output-dir runs/citab --epochs 20 --pretrain-epochs 20
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from monai_tabular.engines import RunSpec, run_bundle, run_folds

ROOT = Path(__file__).resolve().parents[1]
PRETRAIN = ROOT / "bundles" / "citab_pretrain"
FINETUNE = ROOT / "bundles" / "citab_finetune"
BASELINE = ROOT / "bundles" / "image_table_baseline"

COHORTS = [
    {"name": "clinical", "columns": ["age", "height_cm", "weight_kg", "ethnic_id", "marital_id"]},
    {"name": "dlmuse", "columns": ["roi_70*", "roi_60*", "roi_61*", "age", "weight_kg"]},
    {"name": "mixed", "columns": ["height_cm", "occupation_id", "marital_id", "roi_50*"]},
]

# sizes for a shared 2-core CPU: quarter-width ResNet-10 at 8 mm (30x30x23: the last feature map is 1x1x1, so one
# image token), a small SAT and fusion; images are preprocessed once into a disk cache shared by all runs
IMAGE_SIZE = [30, 30, 23]
MODEL = {"image_encoder": "resnet10", "image_encoder_args": {"width_factor": 0.25}, "image_size": IMAGE_SIZE,
         "image_token_grid": 1,
         "table_encoder_args": {"d_model": 64, "n_blocks": 2, "n_heads": 4, "n_prototypes": 4, "dropout": 0.1,
                                "ffn": "pmolin"},
         "fusion_dim": 128, "fusion_blocks": 2, "fusion_heads": 4, "embed_dim": 64, "max_columns": 24}

VARIANTS = {"full": {}, "no_header": {"use_headers": False},
            "plain_ffn": {"table_encoder_args": {**MODEL["table_encoder_args"], "ffn": "mlp"}}}


def pretrain(output_dir: Path, variant: str, folds, epochs: int, data_root: str, cache: str) -> None:
    """Pretrain one variant on each fold's training + validation subjects (skipped when done)."""
    for fold in folds:
        run_dir = output_dir / "pretrain" / variant / f"fold{fold}"
        if (run_dir / "model.pt").is_file():
            continue
        start = time.perf_counter()
        overrides = {**MODEL, **VARIANTS[variant], "recipe": "ixi_t1_hh/sex",
                     "recipe_options": {"table": "clinical+dlmuse"}, "dataset_dir": data_root, "fold": fold,
                     "output_dir": str(run_dir.parent), "cohorts": COHORTS, "epochs": epochs, "batch_size": 8,
                     "image_cache_dir": cache}
        run_bundle(PRETRAIN, ["train.json"], overrides, log_config="logging_quiet.conf")
        print(f"pretrain {variant} fold {fold}: {time.perf_counter() - start:.0f} s", flush=True)


def baseline_rows(fusions) -> list[RunSpec]:
    """Fusion baselines of the baseline bundle (MLP table encoder; all labels only: that bundle has no label
    fraction), at the same input size and epochs."""
    return [RunSpec(f"{name}_fusion", BASELINE, {"model": "fusion", "network_args#fusion": name,
                                                 "table_encoder_args": {}}, {"both": "both"}) for name in fusions]


def finetune_rows(output_dir: Path, variants, linear_probe: bool) -> list[RunSpec]:
    pretrained = str((output_dir / "pretrain").resolve())
    rows = []
    for variant in variants:
        name = "citab" if variant == "full" else f"citab_{variant}"
        path = f"$'{pretrained}/{variant}/fold' + str(@fold) + '/model.pt'"
        rows.append(RunSpec(name, FINETUNE, {**VARIANTS[variant], "pretrained": path}))
        if variant == "full":
            rows.append(RunSpec("citab_scratch", FINETUNE, {"from_scratch": True}))
            if linear_probe:
                rows.append(RunSpec("citab_linear_probe", FINETUNE, {"pretrained": path, "linear_probe": True}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="runs/citab")
    parser.add_argument("--data-root", default="", help="../shared/data by default")
    parser.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=20, help="fine-tuning epochs")
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.2, 1.0])
    parser.add_argument("--variants", nargs="+", default=["full"], choices=list(VARIANTS))
    parser.add_argument("--linear-probe", action="store_true")
    parser.add_argument("--baselines", nargs="*", default=["concat", "daft", "cross_attention"],
                        help="fusion baselines added to the 100%% task")
    parser.add_argument("--image-cache", default="/tmp/citab_image_cache")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    output_dir = Path(args.output_dir)
    for variant in args.variants:
        pretrain(output_dir, variant, args.folds, args.pretrain_epochs, args.data_root, args.image_cache)
    rows = finetune_rows(output_dir, args.variants, args.linear_probe)
    for fraction in args.fractions:
        task = f"sex_{round(fraction * 100)}pct"
        start = time.perf_counter()
        overrides = {**MODEL, "recipe": "ixi_t1_hh/sex", "dataset_dir": args.data_root, "epochs": args.epochs,
                     "batch_size": 8, "label_fraction": fraction, "image_cache_dir": args.image_cache}
        task_rows = rows + (baseline_rows(args.baselines) if fraction == 1.0 else [])
        paths = run_folds(bundle_dir=FINETUNE, output_dir=output_dir / task, models=task_rows, folds=args.folds,
                          overrides=overrides, log_config="logging_quiet.conf",
                          title=f"IXI-HH cross-table: sex, {round(fraction * 100)}% of the training labels "
                                f"(CITab pretrained on 3 disjoint cohorts with other columns; given folds)")
        print(f"{task}: {time.perf_counter() - start:.0f} s -> {paths['markdown']}", flush=True)
        print(paths["markdown"].read_text(), flush=True)


if __name__ == "__main__":
    main()
