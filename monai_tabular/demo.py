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
"""``python -m monai_tabular.demo``: the synthetic cohort through the data pipeline, then the flagship bundle.

1. Builds the embedded synthetic cohort, makes subject-wise stratified folds, fits the table schema on the
   training folds only, and streams every subject through a MONAI ``Compose`` + ``CacheDataset`` + ``DataLoader``,
   printing what a model receives.
2. Trains and evaluates the ``image_table_baseline`` bundle (image-only, table-only and late fusion) on 5
   subject-wise folds next to a scikit-learn logistic regression on the same table and split, and prints the
   results table (pooled out-of-fold metrics with bootstrap CIs and DeLong tests against logistic regression).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from monai.data import CacheDataset, DataLoader
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, ScaleIntensityd
from monai.utils import set_determinism

from monai_tabular.data import TableSchema, build_datalist
from monai_tabular.data.splits import fold_summary, split_records, subject_kfold
from monai_tabular.data.synthetic import make_synthetic_cohort
from monai_tabular.transforms import AttributeSentencesd, EncodeLabeld, EncodeTabled

__all__ = ["run_demo", "train_and_evaluate", "main"]

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "image_table_baseline"
CFCML_BUNDLE = BUNDLE.parent / "cfcml"


def run_demo(output_dir: str | Path = "demo_output", *, spatial_dims: int = 3, n_subjects: int = 96,
             seed: int = 0, batch_size: int = 8) -> dict:
    """Run the data demo and return a summary dict (also printed).

    Example:
        >>> summary = run_demo("demo_output", spatial_dims=2, n_subjects=32)   # doctest: +SKIP
    """
    set_determinism(seed)
    output_dir = Path(output_dir)
    start = time.perf_counter()
    cohort = make_synthetic_cohort(output_dir / f"cohort{spatial_dims}d", n_subjects=n_subjects,
                                   spatial_dims=spatial_dims, seed=seed)
    print(f"synthetic {spatial_dims}D cohort: {cohort.n_subjects} subjects in {cohort.root}")
    records = build_datalist(cohort.csv_path, cohort.spec, check_images="header")
    folds = subject_kfold(records, n_splits=5, seed=seed)
    print(fold_summary(records, folds).to_string())
    train, val = split_records(records, folds, val_fold=0)
    train_ids = {r["subject_id"] for r in train}
    schema = TableSchema.from_table(cohort.csv_path, cohort.spec)
    frame = _rows_of(cohort.csv_path, schema.subject_id, train_ids)
    schema.fit(frame)
    schema_path = schema.save(output_dir / "schema.json", overwrite=True)
    print(f"\nschema fit on {len(train)} training subjects, saved to {schema_path}\n{schema.describe()}\n")
    pipeline = Compose([
        LoadImaged("image", image_only=True), EnsureChannelFirstd("image"), ScaleIntensityd("image"),
        AttributeSentencesd(schema=schema), EncodeTabled(schema=schema), EncodeLabeld(schema=schema),
    ])
    shapes = {}
    for name, part in (("train", train), ("val", val)):
        dataset = CacheDataset(part, pipeline, progress=False, num_workers=0)
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=name == "train", num_workers=0)
        n_batches, n_missing = 0, 0.0
        for batch in loader:
            n_batches += 1
            n_missing += float((1 - batch["numerical_mask"]).sum() + (1 - batch["categorical_mask"]).sum())
            shapes = {k: tuple(v.shape) for k, v in batch.items() if isinstance(v, torch.Tensor)}
            example = [s[0] for s in batch["sentences"]]
        print(f"{name}: {len(part)} subjects in {n_batches} batches; {int(n_missing)} missing cells carried as masks")
    print("\nlast batch: " + ", ".join(f"{k} {v}" for k, v in shapes.items()))
    print("sentences of one subject:\n  " + "\n  ".join(example))
    seconds = time.perf_counter() - start
    print(f"\ndemo finished in {seconds:.1f} s")
    return {"n_train": len(train), "n_val": len(val), "schema": str(schema_path), "shapes": shapes,
            "seconds": seconds}


def train_and_evaluate(output_dir: str | Path = "demo_output", *, spatial_dims: int = 3, n_subjects: int = 200,
                       epochs: int = 15, folds: int = 5, seed: int = 0, bundle_dir: str | Path = BUNDLE,
                       flagship: bool = True) -> Path:
    """Train + evaluate the flagship CFCML bundle beside the baseline image-only, table-only and late-fusion models
    on the synthetic cohort (all folds, with the logistic-regression row); return the results Markdown path.

    Example:
        >>> train_and_evaluate("demo_output", spatial_dims=2, n_subjects=40, epochs=1, folds=2)   # doctest: +SKIP
    """
    import warnings

    from monai_tabular.engines import RunSpec, run_folds, run_specs

    warnings.filterwarnings("ignore", message="parsing config_file")  # MONAI's notice that configs can run code
    rows = run_specs(["fusion", "image", "table"])
    if flagship:
        rows.insert(0, RunSpec("cfcml", CFCML_BUNDLE, {}, {"both": "both"}))
    print(f"\ntraining {', '.join(r.name for r in rows)} on {folds} folds (minutes on a CPU) ...")
    start = time.perf_counter()
    synthetic = {"n_subjects": n_subjects, "spatial_dims": spatial_dims, "seed": seed,
                 "root": str(Path(output_dir).resolve() / f"cohort{spatial_dims}d_{n_subjects}")}
    overrides = {"epochs": epochs, "seed": seed, "n_folds": folds, "synthetic": synthetic}
    paths = run_folds(bundle_dir=bundle_dir, output_dir=Path(output_dir) / "image_table_baseline", models=rows,
                      folds=list(range(folds)), overrides=overrides,
                      title=f"Synthetic {spatial_dims}D cohort ({n_subjects} subjects, {folds} folds, {epochs} epochs)",
                      log_config="logging_quiet.conf")
    print("\n" + paths["markdown"].read_text())
    print(f"results in {paths['markdown'].parent} (train + evaluate: {time.perf_counter() - start:.0f} s)")
    return paths["markdown"]


def _rows_of(csv_path: Path, subject_column: str, subjects: set[str]):
    from monai_tabular.data import read_table

    frame = read_table(csv_path)
    return frame[frame[subject_column].isin(subjects)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="demo_output")
    parser.add_argument("--spatial-dims", type=int, choices=(2, 3), default=3)
    parser.add_argument("--n-subjects", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--train-subjects", type=int, default=200, help="cohort size for training")
    parser.add_argument("--data-only", action="store_true", help="only the data pipeline part")
    parser.add_argument("--no-flagship", action="store_true", help="baseline models only (no CFCML row)")
    args = parser.parse_args(argv)
    run_demo(args.output_dir, spatial_dims=args.spatial_dims, n_subjects=args.n_subjects, seed=args.seed)
    if not args.data_only:
        train_and_evaluate(args.output_dir, spatial_dims=args.spatial_dims, n_subjects=args.train_subjects,
                           epochs=args.epochs, folds=args.folds, seed=args.seed, flagship=not args.no_flagship)


if __name__ == "__main__":
    main()
