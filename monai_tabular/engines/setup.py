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
"""One fold of an experiment: data source -> subject-wise split -> schema fit on the training rows -> data lists.

Bundle configs call :func:`prepare_fold` once; everything the network and transforms need (spatial dims, input
channels, number of outputs, the fitted schema's path, class weights) comes from its result, derived from the
data rather than typed by hand.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from monai_tabular.data import TableSchema, build_datalist, read_table
from monai_tabular.data.splits import load_folds, split_records, subject_kfold

__all__ = ["check_flags", "FoldData", "TrainedRun", "load_run", "prepare_fold", "prepare_inference", "probe_image", "probe_shape",
           "save_json", "load_json", "mark_modalities", "drop_modalities", "balanced_sampler"]

logger = logging.getLogger(__name__)


def _image_header(path: str | Path) -> tuple[tuple[int, ...], int]:
    """``(spatial shape, channels)`` of an image file, from its header only."""
    name = str(path).lower()
    if name.endswith((".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")):
        from PIL import Image

        with Image.open(path) as image:  # PIL reports width x height, the order MONAI's reader loads
            return tuple(image.size), len(image.getbands())
    if name.endswith((".nii", ".nii.gz", ".mgz")):
        import nibabel as nib

        shape = nib.load(str(path)).shape
        return tuple(int(s) for s in shape[:3]), int(shape[3]) if len(shape) > 3 else 1
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    return tuple(int(s) for s in reader.GetSize()), int(reader.GetNumberOfComponents())


def probe_shape(path: str | Path) -> tuple[int, ...]:
    """Spatial shape of an image file from its header, in the order the transforms see it.

    Example:
        >>> probe_shape("images/sub-0000.png")   # doctest: +SKIP
        (64, 64)
    """
    return _image_header(path)[0]


def probe_image(path: str | Path) -> tuple[int, int]:
    """``(spatial_dims, channels)`` of an image file, read from its header.

    Example:
        >>> probe_image("images/sub-0000.nii.gz")   # doctest: +SKIP
        (3, 1)
    """
    shape, channels = _image_header(path)
    return len(shape), channels


class _LabelInfo:
    """Label facts read from the fitted schema (``self.schema``)."""

    schema: TableSchema

    @property
    def task(self) -> str:
        return self.schema.task

    @property
    def class_names(self) -> list[str]:
        return list(self.schema.label_classes.get(self.schema.labels[0], [])) if self.schema.labels else []

    @property
    def label_scale(self) -> float:
        stats = self.schema.label_stats.get(self.schema.labels[0]) if self.schema.labels else None
        return stats["std"] if stats else 1.0

    @property
    def label_offset(self) -> float:
        stats = self.schema.label_stats.get(self.schema.labels[0]) if self.schema.labels else None
        return stats["mean"] if stats else 0.0

    @property
    def time_cuts(self) -> list[float] | None:
        """Interval edges of the discrete-time survival model (fit on the training times), else ``None``."""
        if self.task != "survival":
            return None
        return list(self.schema.label_stats[self.schema.survival["time"]]["cuts"])

    def num_outputs_for(self, survival_loss: str = "cox") -> int:
        """Network outputs: classes; 1 for regression and Cox survival; one per interval for ``logistic_hazard``."""
        if self.task == "survival" and survival_loss == "logistic_hazard":
            return len(self.time_cuts) - 1
        return len(self.class_names) if self.task == "classification" else 1


@dataclass
class FoldData(_LabelInfo):
    """What one fold of an experiment provides to a bundle config.

    Attributes:
        train, val, test: MONAI data lists (``test`` empty for plain cross-validation).
        schema: the schema fit on ``train``; schema_path: where it was saved.
        spatial_dims, in_channels: from the first image's header.
        output_dir: the fold's run folder.
    """

    train: list[dict]
    val: list[dict]
    test: list[dict]
    schema: TableSchema
    schema_path: Path
    spatial_dims: int
    in_channels: int
    output_dir: Path
    source: dict = field(default_factory=dict)

    @property
    def column_texts(self) -> list[str]:
        """Description (and unit) of each table attribute, numerical columns first, then categorical: the header
        texts that header-aware table encoders embed."""
        texts = []
        for name in self.schema.numerical + self.schema.categorical:
            column = self.schema[name]
            texts.append(f"{column.description} ({column.unit})" if column.unit else column.description)
        return texts

    def save_split(self, path: str | Path) -> Path:
        """Write the train/val/test data lists (with their table rows) as JSON, so the run is self-describing:
        scikit-learn baselines and reports use exactly the subjects this run used."""
        return save_json(path, {"source": self.source, "train": self.train, "val": self.val, "test": self.test})


    @property
    def num_outputs(self) -> int:
        """Number of network outputs: classes, or 1 for regression (and Cox survival)."""
        return self.num_outputs_for("cox")

    @property
    def train_survival(self) -> dict[str, list[float]] | None:
        """Training ``{"time": [...], "event": [...]}`` (survival; the censoring distribution of Uno's C, the
        time-dependent AUC and the Brier score), else ``None``."""
        if self.task != "survival":
            return None
        time, event = self.schema.survival["time"], self.schema.survival["event"]
        return {"time": [self.schema.encode_label(r[time], column=time) for r in self.train],
                "event": [self.schema.encode_label(r[event], column=event) for r in self.train]}

    @property
    def n_numerical(self) -> int:
        return len(self.schema.numerical)

    @property
    def cardinalities(self) -> list[int]:
        return self.schema.cardinalities


    @property
    def image_shape(self) -> tuple[int, ...]:
        """Spatial shape of the first training image (from its header)."""
        first = next((r["image"] for r in self.train if r.get("image")), None)
        return probe_shape(first) if first else ()

    @property
    def suggested_image_size(self) -> list[int]:
        """Input size derived from the data: the native size shrunk by the smallest integer factor that brings
        the largest side to at most 64 (3D) or 128 (2D) — e.g. IXI's 120x120x90 at 2 mm becomes 60x60x45 (4 mm)."""
        shape = self.image_shape
        limit = 64 if self.spatial_dims == 3 else 128
        factor = max(1, -(-max(shape) // limit)) if shape else 1
        return [max(1, round(s / factor)) for s in shape]

    def loss_class_weights(self, enabled: bool = True) -> list[float] | None:
        """:attr:`class_weights` when ``enabled`` (the bundle's ``class_weights`` switch), else ``None``."""
        return self.class_weights if enabled else None

    @property
    def class_weights(self) -> list[float] | None:
        """Inverse class frequencies of the training split, normalised to mean 1 (classification)."""
        if self.task != "classification":
            return None
        counts = Counter(str(r["label"]) for r in self.train)
        raw = [len(self.train) / (len(self.class_names) * max(counts.get(c, 0), 1)) for c in self.class_names]
        return [w * len(raw) / sum(raw) for w in raw]


def mark_modalities(records: list[dict], *, placeholder: str | None = None, image_key: str = "image",
                    table_key: str = "table") -> list[dict]:
    """Add ``image_present`` / ``table_present`` (1.0 / 0.0) to every record; a record without an image gets the
    ``placeholder`` image path (any readable image of the same kind, loaded but masked out by the network) so the
    image transforms run unchanged. A record with neither is refused with its subject id.

    Example:
        >>> mark_modalities([{"subject_id": "a", "image": "a.png", "table": {"age": None}}])[0]["table_present"]
        0.0
    """
    out, neither = [], []
    for record in records:
        record = dict(record)
        has_image = bool(record.get(image_key))
        cells = record.get(table_key)
        has_table = any(v is not None for v in cells.values()) if isinstance(cells, dict) else cells is not None
        if not has_image and not has_table:
            neither.append(record.get("subject_id"))
        if not has_image:
            if placeholder is None:
                raise ValueError(f"subject {record.get('subject_id')!r} has no image and no placeholder image "
                                 "was given")
            record[image_key] = placeholder
        record["image_present"] = float(has_image)
        record["table_present"] = float(has_table)
        out.append(record)
    if neither:
        raise ValueError(f"subject(s) {neither[:20]} have neither an image nor any table cell; every subject "
                         "needs at least one modality")
    return out


def drop_modalities(records: list[dict], *, image_fraction: float = 0.0, table_fraction: float = 0.0,
                    seed: int = 0) -> list[dict]:
    """Copies of ``records`` where a seeded ``image_fraction`` of the subjects lose their image
    (``image_present`` = 0) and ``table_fraction`` of the subjects lose their table; the table is dropped only
    from subjects that keep their image, so no subject loses both (the evaluation of a missing-modality curve).

    Example:
        >>> rows = [{"subject_id": str(i), "image_present": 1.0, "table_present": 1.0} for i in range(4)]
        >>> sum(r["image_present"] for r in drop_modalities(rows, image_fraction=0.5))
        2.0
    """
    import numpy as np

    for name, value in (("image_fraction", image_fraction), ("table_fraction", table_fraction)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    records = [dict(r, image_present=float(r.get("image_present", 1.0)),
                    table_present=float(r.get("table_present", 1.0))) for r in records]
    rng = np.random.default_rng(seed)
    n = len(records)
    for index in rng.permutation(n)[:int(round(float(image_fraction) * n))]:
        if records[index]["table_present"] > 0:
            records[index]["image_present"] = 0.0
    keeps_image = [i for i in rng.permutation(n) if records[i]["image_present"] > 0]
    for index in keeps_image[:int(round(float(table_fraction) * n))]:
        records[index]["table_present"] = 0.0
    return records


def balanced_sampler(data: FoldData | list[dict], *, seed: int = 0, num_samples: int | None = None):
    """A ``WeightedRandomSampler`` drawing every training class equally often (weights 1 / class count).

    Example:
        >>> sampler = balanced_sampler([{"label": "a"}, {"label": "a"}, {"label": "b"}])
        >>> sampler.weights.tolist()
        [0.25, 0.25, 0.5]
    """
    import torch
    from torch.utils.data import WeightedRandomSampler

    records = data.train if isinstance(data, FoldData) else data
    counts = Counter(str(r["label"]) for r in records)
    weights = torch.tensor([1.0 / counts[str(r["label"])] for r in records], dtype=torch.double)
    generator = torch.Generator().manual_seed(int(seed))
    return WeightedRandomSampler(weights / weights.sum(), num_samples=num_samples or len(records),
                                 replacement=True, generator=generator)


def _check_events(schema: TableSchema, parts: dict[str, list[dict]]) -> None:
    event = schema.survival["event"]
    for name, records in parts.items():
        if records and not any(schema.encode_label(r[event], column=event) == 1 for r in records):
            raise ValueError(f"the {name} part ({len(records)} subjects) has no events in column {event!r}: "
                             "survival metrics are undefined; use fewer folds or another split")


def _source(*, csv, spec, recipe, data_root, output_dir, synthetic, folds, image_root, recipe_options=None):
    if recipe:
        from monai_tabular.data.recipes import load_recipe

        loaded = load_recipe(recipe, data_root=data_root or None, **dict(recipe_options or {}))
        return loaded.table, loaded.spec, loaded.folds, loaded.image_root, {"recipe": recipe,
                                                                            **dict(recipe_options or {})}
    if csv:
        table = read_table(csv)
        assignment = load_folds(folds) if folds else None
        root = Path(image_root) if image_root else Path(csv).parent
        return table, spec, assignment, root, {"csv": str(csv)}
    from monai_tabular.data.synthetic import make_synthetic_cohort

    options = dict(synthetic or {})
    cohort = make_synthetic_cohort(Path(options.pop("root", output_dir / "synthetic_cohort")), **options)
    return read_table(cohort.csv_path), cohort.spec, None, cohort.root, {"synthetic": str(cohort.root)}


def _subsample(records: list[dict], n: int, seed: int) -> list[dict]:
    """At most ``n`` records, taken round-robin over the label classes in a seeded order (every class kept)."""
    import random

    if len(records) <= n:
        return records
    by_class: dict[str, list[dict]] = {}
    for record in records:
        by_class.setdefault(str(record.get("label")), []).append(record)
    rng = random.Random(seed)
    queues = [rng.sample(group, len(group)) for _, group in sorted(by_class.items())]
    chosen: list[dict] = []
    while len(chosen) < n:
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop())
    keep = {id(r) for r in chosen}
    return [r for r in records if id(r) in keep]


def prepare_fold(**kwargs: Any) -> FoldData:
    """Distributed-safe :func:`_prepare_fold`: in a ``torch.distributed`` run, rank 0 prepares the data first
    (writes the synthetic cohort, fits and saves the schema) while the other ranks wait, then they read it."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return _prepare_fold(**kwargs)
    if dist.get_rank() == 0:
        data = _prepare_fold(**kwargs)
        dist.barrier()
        return data
    dist.barrier()
    return _prepare_fold(**{**kwargs, "fit_schema": False})


prepare_fold.__doc__ = None  # replaced below, once _prepare_fold is defined


def _prepare_fold(
    *,
    output_dir: str | Path,
    csv: str | Path | None = None,
    spec: dict | str | Path | None = None,
    recipe: str | None = None,
    recipe_options: dict | None = None,
    data_root: str | Path | None = None,
    synthetic: dict | None = None,
    folds: str | Path | None = None,
    n_folds: int = 5,
    fold: int | str = 0,
    val_fold: int | str | None = None,
    test_fold: int | str | None = None,
    seed: int = 0,
    image_root: str | Path | None = None,
    check_images: str = "header",
    max_subjects: int | None = None,
    schema_path: str | Path | None = None,
    fit_schema: bool = True,
    allow_missing_images: bool = False,
) -> FoldData:
    """Load a data source, split it subject-wise, fit the schema on the training rows and build data lists.

    The source is, in order of precedence: a real-data ``recipe`` (e.g. ``"derm7pt/mel_vs_nev"``), a user ``csv``
    + ``spec`` (+ optional ``folds`` CSV), or the synthetic cohort (``synthetic`` holds its options). Folds come
    from the source (given folds / split) or a seeded subject-wise stratified K-fold. With K folds, fold ``fold``
    is the test part, the next fold the validation part (early stopping / best-model selection) and the other
    K-2 train, so reported numbers never come from the data that chose the model; with a train/val/test split
    the parts are ``"train"``, ``"val"`` and ``"test"``.

    Args:
        output_dir: run folder; the fitted schema is saved as ``schema.json`` there.
        schema_path: use this saved schema instead of fitting one (fine-tuning from another run).
        fit_schema: fit and save the schema (training); ``False`` loads ``output_dir/schema.json`` (evaluation).
        recipe_options: options of the recipe's loader, e.g. ``{"table": "clinical+dlmuse"}`` for IXI.
        max_subjects: keep at most this many subjects per part (quick runs and tests).
        allow_missing_images: an empty image path is allowed (the subject has ``image_present`` = 0).

    Every record carries ``image_present`` and ``table_present`` (1.0 / 0.0); a subject with neither is refused
    with its id. A survival task refuses a part without events.

    Example:
        >>> data = prepare_fold(output_dir="runs/fold0", recipe="ixi_t1_hh/sex", fold=0)   # doctest: +SKIP
        >>> len(data.train), data.spatial_dims, data.num_outputs                           # doctest: +SKIP
    """
    output_dir = Path(output_dir)
    table, spec, assignment, root, source = _source(csv=csv, spec=spec, recipe=recipe, data_root=data_root,
                                                    output_dir=output_dir, synthetic=synthetic, folds=folds,
                                                    image_root=image_root, recipe_options=recipe_options)
    unfitted = TableSchema.from_table(table, spec)
    records = build_datalist(table, unfitted, image_root=root, check_images=check_images,
                             allow_missing_images=allow_missing_images)
    if unfitted.images:
        placeholder = next((r["image"] for r in records if r.get("image")), None)
        records = mark_modalities(records, placeholder=placeholder)
    if assignment is None:
        assignment = subject_kfold(records, n_splits=n_folds, seed=seed,
                                   label_key="label" if unfitted.task == "classification" else
                                   unfitted.survival["event"] if unfitted.task == "survival" else None)
    values = set(assignment.values())
    if {"train", "val"} <= values:
        val_fold = "val" if val_fold is None else val_fold
        test_fold = "test" if test_fold is None and "test" in values else test_fold
    else:
        ordered = sorted(values, key=str)
        if len(ordered) < 3:
            raise ValueError(f"K-fold runs need at least 3 folds (one test, one validation, the rest to train); "
                             f"got {len(ordered)}: {ordered}")
        if fold not in values:
            raise ValueError(f"fold {fold!r} is not among the folds {ordered}")
        test_fold = fold if test_fold is None else test_fold
        if val_fold is None:
            val_fold = ordered[(ordered.index(test_fold) + 1) % len(ordered)]
    parts = split_records(records, assignment, val_fold=val_fold, test_fold=test_fold, unassigned="drop")
    train, val = parts[0], parts[1]
    test = parts[2] if len(parts) > 2 else []
    if max_subjects:
        train, val, test = (_subsample(part, max_subjects, seed) for part in (train, val, test))
    if not fit_schema and not schema_path:
        schema_path = output_dir / "schema.json"
        if not schema_path.is_file():
            raise FileNotFoundError(f"{schema_path} does not exist: train this fold first (the schema is fit and "
                                    "saved by training)")
    if schema_path:
        schema = TableSchema.load(schema_path)
        saved = Path(schema_path)
    else:
        sid = unfitted.subject_id
        train_ids = {r["subject_id"] for r in train}
        rows = table[table[sid].astype(str).isin(train_ids)] if sid else table.loc[
            [int(r["subject_id"].split("-", 1)[1]) for r in train]]
        schema = unfitted.fit(rows)
        saved = schema.save(output_dir / "schema.json", overwrite=True)
    if schema.task == "survival":
        _check_events(schema, {"train": train, "validation": val, "test": test})
    first = next((r["image"] for r in train if r.get("image")), None)
    spatial_dims, in_channels = probe_image(first) if first else (0, 0)
    source.update({"val_fold": val_fold, "test_fold": test_fold, "n_train": len(train), "n_val": len(val),
                   "n_test": len(test)})
    logger.info("fold %s: %d train / %d val / %d test subjects; schema %s", val_fold, len(train), len(val),
                len(test), saved)
    return FoldData(train=train, val=val, test=test, schema=schema, schema_path=saved, spatial_dims=spatial_dims,
                    in_channels=in_channels, output_dir=output_dir, source=source)


prepare_fold.__doc__ = (_prepare_fold.__doc__ or "") + """
    In a ``torch.distributed`` run, rank 0 prepares the data first (synthetic cohort, schema fit and save) while
    the other ranks wait; they then load the saved schema.
"""


def check_flags(**flags: Any) -> None:
    """Refuse a yes/no bundle option that is not a boolean, naming it.

    ``python -m monai.bundle run --surgery false`` passes the text ``"false"`` (only ``False``/``True`` are read as
    booleans), and a non-empty text counts as true, so the option would silently be on. Each bundle config calls
    this first with its yes/no options.

    Example:
        >>> check_flags(amp=False, resume=True)
        >>> check_flags(surgery="false")
        Traceback (most recent call last):
        ...
        ValueError: bundle option --surgery must be True or False, got the text 'false'; on the command line write --surgery False (monai.bundle reads only True/False as booleans)
    """
    for name, value in flags.items():
        if isinstance(value, bool):
            continue
        shown = f"the text {value!r}" if isinstance(value, str) else f"{value!r} ({type(value).__name__})"
        suggestion = "False" if str(value).strip().lower() in ("false", "0", "no", "off", "") else "True"
        raise ValueError(f"bundle option --{name} must be True or False, got {shown}; on the command line write "
                         f"--{name} {suggestion} (monai.bundle reads only True/False as booleans)")


def save_json(path: str | Path, content: Any) -> Path:
    """Write ``content`` as JSON (used for the network arguments a run was trained with)."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, default=str) + "\n")
    return path


def load_json(path: str | Path) -> Any:
    """Read a JSON file written by :func:`save_json`, naming the file when it is missing."""
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is this the folder of a trained run?")
    return json.loads(path.read_text())


def prepare_inference(*, csv: str | Path, run_dir: str | Path, image_root: str | Path | None = None,
                      check_images: str = "header", allow_missing_images: bool = False) -> list[dict]:
    """Data list for inference on a table that may lack labels, checked against the run's saved schema.

    Unseen categories map to the unknown index and missing cells are masked, as in training; a table that lacks a
    column the schema needs is refused with the column named. With ``allow_missing_images`` an empty image path
    is allowed (``image_present`` = 0, as in :func:`prepare_fold`).

    Example:
        >>> records = prepare_inference(csv="new_patients.csv", run_dir="runs/fold0")   # doctest: +SKIP
    """
    schema = TableSchema.load(Path(run_dir) / "schema.json")
    table = read_table(csv)
    root = Path(image_root) if image_root else Path(csv).parent
    records = build_datalist(table, schema, image_root=root, check_images=check_images, require_labels=False,
                             allow_missing_images=allow_missing_images)
    if schema.images:
        records = mark_modalities(records, placeholder=next((r["image"] for r in records if r.get("image")), None))
    return records


@dataclass
class TrainedRun(_LabelInfo):
    """What inference needs from a training run folder: schema, network arguments, input size, checkpoint."""

    run_dir: Path
    schema: TableSchema
    network_args: dict
    preprocessing: dict

    @property
    def image_size(self) -> list[int]:
        return list(self.preprocessing["image_size"])

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / "model.pt"


def load_run(run_dir: str | Path) -> TrainedRun:
    """Read ``schema.json``, ``network.json`` and ``preprocessing.json`` of a trained run folder.

    Example:
        >>> trained = load_run("runs/fold0"); trained.class_names   # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    return TrainedRun(run_dir=run_dir, schema=TableSchema.load(run_dir / "schema.json"),
                      network_args=load_json(run_dir / "network.json"),
                      preprocessing=load_json(run_dir / "preprocessing.json"))
