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
"""Paired image + table data lists in MONAI's format: one dict per subject (image path(s), label, table row)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from monai_tabular.data.errors import ImageDataError, SchemaError, TableDataError, combine_errors
from monai_tabular.data.schema import TableSchema
from monai_tabular.data.table import is_missing, missing_mask, read_table, source_of

__all__ = ["build_datalist", "check_image", "find_image_problems", "CHECK_LEVELS", "TABLE_KEY"]

logger = logging.getLogger(__name__)

TABLE_KEY = "table"
CHECK_LEVELS = ("none", "exists", "header", "full")
_NIFTI = (".nii", ".nii.gz", ".mgz", ".img", ".hdr")
_PIL = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _as_schema(table: pd.DataFrame, schema: TableSchema | Mapping | str | Path) -> TableSchema:
    if isinstance(schema, TableSchema):
        return schema
    if isinstance(schema, (str, Path)) and Path(schema).is_file():
        try:
            return TableSchema.load(schema)
        except SchemaError:
            pass  # not a fitted schema: a spec file
    return TableSchema.from_table(table, schema)


def check_image(path: str | Path, *, level: str = "header") -> None:
    """Raise ``OSError``/``ValueError`` if the image at ``path`` is missing or unreadable.

    Levels: ``"exists"`` (a file is there), ``"header"`` (its header parses: NIfTI via nibabel, PNG/JPEG via
    Pillow, other formats via SimpleITK), ``"full"`` (all voxels decode; catches truncated files).

    Example:
        >>> check_image("images/sub-0000.nii.gz", level="full")   # doctest: +SKIP
    """
    if level not in CHECK_LEVELS:
        raise ValueError(f"unknown check level {level!r}; levels are {list(CHECK_LEVELS)}")
    if level == "none":
        return
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if level == "exists":
        return
    name = path.name.lower()
    if name.endswith(_NIFTI):
        import nibabel as nib

        image = nib.load(str(path))
        if level == "full":
            image.get_fdata(dtype="float32")
    elif name.endswith(_PIL):
        from PIL import Image

        with Image.open(path) as image:
            if level == "full":
                image.load()
            else:
                image.verify()
    else:
        import SimpleITK as sitk

        if level == "full":
            sitk.ReadImage(str(path))
        else:
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(path))
            reader.ReadImageInformation()


def _resolve(path: Any, root: Path) -> Path:
    path = Path(str(path).strip())
    return path if path.is_absolute() else root / path


def find_image_problems(
    records: list[dict], image_keys: list[str], *, level: str = "header", subject_key: str = "subject_id"
) -> list[ImageDataError]:
    """Check every image of a data list; return one error per unreadable image (naming subject and path)."""
    problems = []
    for record in records:
        for key in image_keys:
            path = record.get(key)
            if path is None:
                continue
            try:
                check_image(path, level=level)
            except Exception as exc:  # any reader failure is reported with the subject
                problems.append(ImageDataError(
                    f"image of subject {record.get(subject_key)!r} cannot be read ({type(exc).__name__}: {exc})",
                    file=str(path), column=key, rows=[f"subject {record.get(subject_key)}"]))
    return problems


def build_datalist(
    table: pd.DataFrame | str | Path,
    schema: TableSchema | Mapping | str | Path,
    *,
    image_root: str | Path | None = None,
    check_images: str = "header",
    allow_missing_images: bool = False,
    require_labels: bool = True,
) -> list[dict[str, Any]]:
    """MONAI data list from a table: one dict per subject, validated before any training.

    Each dict holds ``subject_id``, the absolute path of every image column under its column name (and the
    first also under ``"image"``), ``label`` (the first label column's raw value; every label column also under
    its own name), and ``table``: the row's feature cells in canonical form (``None`` where missing), which
    :class:`~monai_tabular.transforms.EncodeTabled` turns into tensors.

    Args:
        table: CSV path or DataFrame.
        schema: a :class:`TableSchema` (fitted or not), a spec dict, or a schema/spec JSON path.
        image_root: directory relative image paths start from; default the CSV's folder (or the working
            directory for a DataFrame).
        check_images: ``"none"``, ``"exists"``, ``"header"`` (default) or ``"full"``; see :func:`check_image`.
        allow_missing_images: an empty image cell is kept as ``None`` instead of being an error.
        require_labels: labels must be present (training/evaluation); ``False`` for inference.

    Raises:
        TableDataError: naming file, column and CSV lines for every problem found (all listed at once).

    Example:
        >>> records = build_datalist("cohort.csv", {"label": "label"}, check_images="exists")  # doctest: +SKIP
        >>> records[0]["image"], records[0]["label"], records[0]["table"]["age"]               # doctest: +SKIP
    """
    frame = read_table(table)
    file = source_of(frame)
    schema = _as_schema(frame, schema)
    require_labels = require_labels and bool(schema.labels)
    schema.check_columns(frame, require_labels=require_labels)
    problems: list[TableDataError] = list(schema.find_problems(frame, require_labels=require_labels))
    if image_root is None:
        image_root = Path(file).parent if file else Path.cwd()
    image_root = Path(image_root)
    sid = schema.subject_id
    if sid is None:
        logger.warning("no subject id column: subjects are named after their row")
    image_keys = schema.images
    records: list[dict[str, Any]] = []
    empty_images: dict[str, list[str]] = {}
    try:
        table_cells = schema.canonical_columns(frame)
    except TableDataError:
        table_cells = None  # non-numeric cells are already in `problems`, with every line listed
    features = schema.features
    # without required labels (inference), labels are kept only where every row has them, so batches collate
    with_labels = require_labels or bool(schema.labels) and all(
        n in frame.columns and not frame[n].pipe(missing_mask).any() for n in schema.labels)
    keep = [sid, *image_keys, *schema.labels]
    rows = frame[[c for c in dict.fromkeys(k for k in keep if k) if c in frame.columns]].to_dict("records")
    for position, (index, row) in enumerate(zip(frame.index, rows)):
        where = f"line {index}" if frame.index.name == "csv_line" else f"index {index}"
        record: dict[str, Any] = {"subject_id": str(row[sid]) if sid else f"row-{index}"}
        for key in image_keys:
            value = row[key]
            if is_missing(value):
                if not allow_missing_images:
                    empty_images.setdefault(key, []).append(where)
                record[key] = None
            else:
                record[key] = os.fspath(_resolve(value, image_root))
        if image_keys and "image" not in record:
            record["image"] = record[image_keys[0]]
        if with_labels:
            for name in schema.labels:
                record[name] = row[name] if not is_missing(row[name]) else None
            if schema.labels:
                record["label"] = record[schema.labels[0]]
        if table_cells is not None:
            record["table"] = {name: table_cells[name][position] for name in features}
        records.append(record)
    for key, rows in empty_images.items():
        problems.append(TableDataError("image path is empty (set allow_missing_images=True if subjects may lack "
                                       "this image)", file=file, column=key, rows=rows))
    if not problems and check_images != "none":
        problems.extend(find_image_problems(records, image_keys, level=check_images))
    if problems:
        raise combine_errors(problems)
    return records
