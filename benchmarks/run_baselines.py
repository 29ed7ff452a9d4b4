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
"""Real-data baselines (image-only, table-only, late fusion, logistic regression) for docs/results.md.

Runs the ``image_table_baseline`` bundle through the fold runner on the public data in ``../shared/data`` (or
``--data-root`` / ``$MONAI_TABULAR_DATA``). Finished folds are skipped, so a stopped run resumes. CPU budget: 3D
runs use 4 mm (60x60x45) inputs and a quarter-width ResNet-10 by default.

    python benchmarks/run_baselines.py --tasks mfeat derm7pt ixi_sex --output-dir runs/baselines
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from monai_tabular.engines import run_folds

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "image_table_baseline"

TASKS = {
    "mfeat": {"title": "mfeat: 10-class digits, 16x15 image + five tabular views (5 folds)",
              "overrides": {"recipe": "mfeat", "epochs": 30, "batch_size": 32,
                            "image_encoder_args": {"width_factor": 0.25, "conv1_t_stride": 1}},
              "folds": [0, 1, 2, 3, 4]},
    "derm7pt": {"title": "Derm7pt: MEL vs NEV, 2D dermoscopy + 7-point checklist and metadata (given split)",
                "overrides": {"recipe": "derm7pt/mel_vs_nev", "epochs": 30, "batch_size": 16},
                "folds": ["test"]},
    "ixi_sex": {"title": "IXI-HH: sex from 3D T1 at 4 mm + clinical table (given 5 folds)",
                "overrides": {"recipe": "ixi_t1_hh/sex", "epochs": 30, "batch_size": 8},
                "folds": [0, 1, 2, 3, 4]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--output-dir", default="runs/baselines")
    parser.add_argument("--data-root", default="", help="../shared/data by default")
    parser.add_argument("--epochs", type=int, default=None, help="override every task's epochs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.tasks:
        task = TASKS[name]
        overrides = dict(task["overrides"], dataset_dir=args.data_root)
        if args.epochs:
            overrides["epochs"] = args.epochs
        start = time.perf_counter()
        paths = run_folds(bundle_dir=BUNDLE, output_dir=Path(args.output_dir) / name, folds=task["folds"],
                          overrides=overrides, title=task["title"])
        print(f"{name}: {time.perf_counter() - start:.0f} s -> {paths['markdown']}", flush=True)
        print(paths["markdown"].read_text(), flush=True)


if __name__ == "__main__":
    main()
