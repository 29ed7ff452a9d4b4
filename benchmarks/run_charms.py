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
"""Real-data CHARMS runs: CHARMS (image-only evaluation) vs the image-only baseline vs knowledge distillation.

Every row uses the same backbone (CPU budget: quarter-width ResNet-10 instead of the paper's ResNet-50), the same
epochs and folds; the fold runner adds the logistic-regression row on the expert table (the table of the first
row), against which the paired DeLong test is made. Finished folds are skipped, so a stopped run resumes.

    python benchmarks/run_charms.py --tasks ixi_sex derm7pt --output-dir runs/charms
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from monai_tabular.engines import RunSpec, run_folds

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
CHARMS, BASELINE = BUNDLES / "charms", BUNDLES / "image_table_baseline"
CPU_BACKBONE = {"image_encoder": "resnet10", "image_encoder_args": {"width_factor": 0.25}}

TASKS = {
    "ixi_sex": {"title": "CHARMS, IXI-HH: sex from 3D T1 at 4 mm, expert table clinical + DLMUSE volumes "
                         "(given 5 folds)",
                "overrides": {"recipe": "ixi_t1_hh/sex", "recipe_options": {"table": "clinical+dlmuse"},
                              "epochs": 20, "batch_size": 8},
                "folds": [0, 1, 2, 3, 4]},
    "ixi_age_group": {"title": "CHARMS, IXI-HH: age group from 3D T1 at 4 mm, expert table clinical + DLMUSE "
                               "volumes (given 5 folds)",
                      "overrides": {"recipe": "ixi_t1_hh/age_group", "recipe_options": {"table": "clinical+dlmuse"},
                                    "epochs": 20, "batch_size": 8},
                      "folds": [0, 1, 2, 3, 4]},
    "derm7pt": {"title": "CHARMS, Derm7pt: MEL vs NEV from 2D dermoscopy, expert table 7-point checklist + metadata "
                         "(given split)",
                "overrides": {"recipe": "derm7pt/mel_vs_nev", "recipe_options": {"attributes": "all"},
                              "epochs": 20, "batch_size": 16},
                "folds": ["test"]},
}


def rows(charms_overrides: dict) -> list[RunSpec]:
    """CHARMS first (its schema is the expert table of the logistic-regression row), then the comparisons."""
    image_only = {"both": "image_only"}
    return [RunSpec("charms", CHARMS, {"method": "charms", **charms_overrides}, image_only),
            RunSpec("image", BASELINE, {"model": "image"}, image_only),
            RunSpec("kd", CHARMS, {"method": "kd"}, image_only)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["ixi_sex", "derm7pt"], choices=list(TASKS))
    parser.add_argument("--output-dir", default="runs/charms")
    parser.add_argument("--data-root", default="", help="../shared/data by default")
    parser.add_argument("--epochs", type=int, default=None, help="override every task's epochs")
    parser.add_argument("--folds", nargs="+", default=None, help="only these K-fold folds (a quick check)")
    parser.add_argument("--max-subjects", type=int, default=None, help="subjects per part (a quick check)")
    parser.add_argument("--align-every", type=int, default=5)
    parser.add_argument("--transport", default="emd", choices=["emd", "partial", "sinkhorn"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.tasks:
        task = TASKS[name]
        overrides = dict(task["overrides"], dataset_dir=args.data_root, **CPU_BACKBONE)
        if args.epochs:
            overrides["epochs"] = args.epochs
        if args.max_subjects:
            overrides["max_subjects"] = args.max_subjects
        given_split = task["folds"] == ["test"]
        folds = task["folds"] if args.folds is None or given_split else [int(f) for f in args.folds]
        start = time.perf_counter()
        paths = run_folds(bundle_dir=CHARMS, output_dir=Path(args.output_dir) / name, folds=folds,
                          overrides=overrides, title=task["title"],
                          models=rows({"align_every": args.align_every, "transport": args.transport}),
                          log_config="logging_quiet.conf")
        print(f"{name}: {time.perf_counter() - start:.0f} s -> {paths['markdown']}", flush=True)
        print(paths["markdown"].read_text(), flush=True)


if __name__ == "__main__":
    main()
