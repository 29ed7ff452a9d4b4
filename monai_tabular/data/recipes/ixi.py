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
"""IXI T1 MRI (Hammersmith Hospital) recipe: the clinical table and/or the DLMUSE region volumes."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from monai_tabular.data.errors import SplitError, TableDataError
from monai_tabular.data.recipes.base import (
    N_FOLDS,
    Recipe,
    _as_str,
    _check_option,
    _read_csv,
    _register_recipe,
    _render_code,
    _spec,
    _strip_cells,
    resolve_data_root,
)

__all__ = ["IXI_AGE_GROUPS", "load_ixi_t1_hh"]

logger = logging.getLogger(__name__)

#: Age-group labels of the IXI ``age_group`` task: age < 40, 40 <= age <= 60, age > 60 (years).
IXI_AGE_GROUPS = ("<40", "40-60", ">60")

_IXI_CODES = ("ethnic_id", "marital_id", "occupation_id", "qualification_id")
_IXI_COLUMNS = {
    "subject_id": {"description": "IXI subject id (IXI<number>-HH-<scan>)"},
    "image": {"description": "T1-weighted head MRI, 2 mm isotropic, 120x120x90, not skull-stripped"},
    "segmentation": {"description": "DLMUSE brain-region label map of the T1 image"},
    "age": {"description": "age at scan", "unit": "years"},
    "sex": {"description": "sex (M/F)"},
    "age_group": {"description": "age group: <40 (age < 40), 40-60 (40 <= age <= 60), >60 (age > 60)"},
    "height_cm": {"description": "height", "unit": "cm"},
    "weight_kg": {"description": "weight", "unit": "kg"},
    "ethnic_id": {"description": "ethnicity code from the IXI demographics sheet (ETHNIC_ID)"},
    "marital_id": {"description": "marital status code from the IXI demographics sheet (MARITAL_ID)"},
    "occupation_id": {"description": "occupation code from the IXI demographics sheet (OCCUPATION_ID)"},
    "qualification_id": {"description": "qualification code from the IXI demographics sheet (QUALIFICATION_ID)"},
}
_IXI_TASKS = ("sex", "age_group", "age")
_IXI_TABLES = ("clinical", "dlmuse", "clinical+dlmuse")


def _ixi_age_group(age: Any) -> Any:
    if not isinstance(age, str):
        return np.nan
    years = float(age)
    if years < 40:
        return IXI_AGE_GROUPS[0]
    if years <= 60:
        return IXI_AGE_GROUPS[1]
    return IXI_AGE_GROUPS[2]


def load_ixi_t1_hh(*, data_root: str | os.PathLike | None = None, task: str = "sex", table: str = "clinical") -> Recipe:
    """IXI Hammersmith T1 MRI with the clinical table and/or the DLMUSE region volumes.

    Tasks: ``"sex"`` (M/F, classification), ``"age_group"`` (``<40``: age < 40; ``40-60``:
    40 <= age <= 60; ``>60``: age > 60; classification) and ``"age"`` (years, regression).
    Clinical features: ``age`` (only for ``sex``), ``sex`` (only for the age tasks), ``height_cm``,
    ``weight_kg`` (numerical) and the IXI codes ``ethnic_id``, ``marital_id``, ``occupation_id``,
    ``qualification_id`` (categorical, rendered ``"1"`` not ``"1.0"``). DLMUSE features: one
    numerical column ``roi_<region>`` per region volume (mm^3). The 4 subjects without clinical
    values have no label and are dropped (logged); the folds are the 5 of ``folds.csv``.

    Args:
        data_root: the shared data folder (see :func:`resolve_data_root`).
        task: ``"sex"``, ``"age_group"`` or ``"age"``.
        table: ``"clinical"``, ``"dlmuse"`` or ``"clinical+dlmuse"``.

    Returns:
        The recipe (181 subjects), image column ``image``, images relative to ``<root>/ixi_t1_hh``.

    Raises:
        ValueError: on an unknown task or table.
        FileNotFoundError: when a data file is missing.
        TableDataError: when the DLMUSE table lacks a subject.
        SplitError: when ``folds.csv`` lacks a subject or has a fold outside 0..4.

    Example:
        >>> recipe = load_ixi_t1_hh(task="age_group", table="clinical+dlmuse")  # doctest: +SKIP
        >>> recipe.table["age_group"].value_counts().to_dict()  # doctest: +SKIP
        {'<40': 69, '40-60': 56, '>60': 56}
    """
    _check_option("ixi_t1_hh", "task", task, _IXI_TASKS)
    _check_option("ixi_t1_hh", "table", table, _IXI_TABLES)
    folder = resolve_data_root(data_root) / "ixi_t1_hh"
    clinical_csv = folder / "clinical.csv"
    clinical = _read_csv(clinical_csv)
    for code in _IXI_CODES:
        clinical[code] = _as_str(clinical[code].map(_render_code, na_action="ignore"))
    _strip_cells(clinical)

    label_source = "age" if task in ("age", "age_group") else "sex"
    unlabelled = clinical["subject_id"][clinical[label_source].isna()].tolist()
    if unlabelled:
        logger.info(
            "ixi_t1_hh: dropping %d subjects without clinical values (no '%s' label): %s",
            len(unlabelled),
            label_source,
            ", ".join(unlabelled),
        )
    clinical = clinical.loc[clinical[label_source].notna()].reset_index(drop=True)

    columns = dict(_IXI_COLUMNS)
    keep = ["subject_id", "image", "segmentation"]
    numerical: list[str] = []
    categorical: list[str] = []
    ignore = ["segmentation"]
    if task == "sex":
        label = "sex"
        keep.append("sex")
        if "clinical" in table:
            keep.append("age")
            numerical.append("age")
    elif task == "age":
        label = "age"
        keep.append("age")
        if "clinical" in table:
            keep.append("sex")
            categorical.append("sex")
    else:
        label = "age_group"
        clinical["age_group"] = _as_str(clinical["age"].map(_ixi_age_group))
        keep += ["age_group", "age"]
        ignore.append("age")  # the label is derived from age
        if "clinical" in table:
            keep.append("sex")
            categorical.append("sex")
    if "clinical" in table:
        keep += ["height_cm", "weight_kg", *_IXI_CODES]
        numerical += ["height_cm", "weight_kg"]
        categorical += list(_IXI_CODES)
    frame = clinical[keep].copy()

    if "dlmuse" in table:
        dlmuse_csv = folder / "dlmuse_roi_volumes.csv"
        dlmuse = _read_csv(dlmuse_csv)
        if "MRID" not in dlmuse.columns:
            raise TableDataError("the DLMUSE table has no 'MRID' column", file=str(dlmuse_csv), column="MRID")
        regions = [c for c in dlmuse.columns if c != "MRID"]
        renamed = {r: f"roi_{r.strip()}" for r in regions}
        dlmuse = dlmuse.rename(columns=renamed)
        lacking = sorted(set(frame["subject_id"]) - set(dlmuse["MRID"]))
        if lacking:
            raise TableDataError(
                "subjects without DLMUSE region volumes", file=str(dlmuse_csv), column="MRID", rows=lacking
            )
        if dlmuse["MRID"].duplicated().any():
            dups = dlmuse["MRID"][dlmuse["MRID"].duplicated()].tolist()
            raise TableDataError("duplicated MRID in the DLMUSE table", file=str(dlmuse_csv), column="MRID", rows=dups)
        frame = frame.merge(dlmuse, how="left", left_on="subject_id", right_on="MRID", validate="one_to_one")
        frame = frame.drop(columns=["MRID"])
        _strip_cells(frame, renamed.values())
        for region, column in renamed.items():
            numerical.append(column)
            columns[column] = {"description": f"volume of DLMUSE region {region.strip()}", "unit": "mm^3"}

    folds_csv = folder / "folds.csv"
    fold_table = _read_csv(folds_csv)
    folds: dict[str, int] = {}
    for line, (sid, fold) in enumerate(zip(fold_table["subject_id"], fold_table["fold"]), start=2):
        value = _render_code(fold)
        if not isinstance(value, str) or not value.isdigit() or int(value) >= N_FOLDS:
            raise SplitError(f"fold must be an integer 0..{N_FOLDS - 1}", file=str(folds_csv), column="fold", rows=[line])
        folds[sid] = int(value)
    ids = frame["subject_id"].tolist()
    lacking = [sid for sid in ids if sid not in folds]
    if lacking:
        raise SplitError("subjects without a fold", file=str(folds_csv), column="subject_id", rows=lacking)
    folds = {sid: folds[sid] for sid in ids}

    used = set(frame.columns)
    spec = _spec(
        subject_id="subject_id",
        label=label,
        task="regression" if task == "age" else "classification",
        classes=list(IXI_AGE_GROUPS) if task == "age_group" else None,
        image=["image"],
        numerical=numerical,
        categorical=categorical,
        ignore=ignore,
        columns={k: v for k, v in columns.items() if k in used},
    )
    description = (
        f"IXI T1 MRI, Hammersmith Hospital (185 scans, 181 with clinical values): task '{task}' "
        f"({'regression of age in years' if task == 'age' else 'classification'}"
        f"{'; groups <40: age < 40, 40-60: 40 <= age <= 60, >60: age > 60' if task == 'age_group' else ''}), "
        f"table '{table}'. Folds: the 5 sex-stratified folds of folds.csv. "
        "Source: IXI (brain-development.org), CC BY-SA 3.0 - cite and attribute IXI."
    )
    return Recipe(
        name=f"ixi_t1_hh/{task}",
        table=frame.reset_index(drop=True),
        spec=spec,
        folds=folds,
        image_root=folder,
        description=description,
        options={"task": task, "table": table},
    ).validate()


_register_recipe(
    "ixi_t1_hh",
    loader=load_ixi_t1_hh,
    options={"task": _IXI_TASKS, "table": _IXI_TABLES},
    summary="IXI T1 brain MRI (3D) + clinical / DLMUSE tables; sex, age group or age",
)
