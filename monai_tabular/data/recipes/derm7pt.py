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
"""Derm7pt recipe: dermoscopy images with the clinical and/or 7-point checklist table."""

from __future__ import annotations

import os
from typing import Any

from monai_tabular.data.errors import SplitError
from monai_tabular.data.recipes.base import (
    Recipe,
    _check_option,
    _read_csv,
    _register_recipe,
    _spec,
    _stratified_folds,
    _strip_cells,
    resolve_data_root,
)

__all__ = ["DERM7PT_CLINICAL", "DERM7PT_SEVEN_POINT", "load_derm7pt"]

DERM7PT_CLINICAL = ("sex", "management", "location", "elevation", "level_of_diagnostic_difficulty")
DERM7PT_SEVEN_POINT = (
    "pigment_network",
    "streaks",
    "pigmentation",
    "regression_structures",
    "dots_and_globules",
    "blue_whitish_veil",
    "vascular_structures",
)
_DERM7PT_COLUMNS = {
    "case_id": {"description": "Derm7pt case id"},
    "image": {"description": "dermoscopic RGB image, 384x384 (cropped, Derm7pt+)"},
    "label": {"description": "melanoma (MEL) or nevus (NEV)"},
    "diagnosis": {"description": "diagnosis (20 classes)"},
    "seven_point_score": {"description": "7-point checklist score (sum of the weighted criteria)", "unit": "points"},
    "pigment_network": {"description": "7-point criterion: pigment network (expert annotation)"},
    "streaks": {"description": "7-point criterion: streaks (expert annotation)"},
    "pigmentation": {"description": "7-point criterion: pigmentation (expert annotation)"},
    "regression_structures": {"description": "7-point criterion: regression structures (expert annotation)"},
    "dots_and_globules": {"description": "7-point criterion: dots and globules (expert annotation)"},
    "blue_whitish_veil": {"description": "7-point criterion: blue-whitish veil (expert annotation)"},
    "vascular_structures": {"description": "7-point criterion: vascular structures (expert annotation)"},
    "level_of_diagnostic_difficulty": {"description": "level of diagnostic difficulty (low/medium/high)"},
    "elevation": {"description": "lesion elevation (flat/palpable/nodular)"},
    "location": {"description": "body location of the lesion"},
    "sex": {"description": "sex of the patient"},
    "management": {"description": "clinical management (excision / clinical follow up / no further examination)"},
}
_DERM7PT_TASKS = ("mel_vs_nev", "diagnosis")
_DERM7PT_ATTRIBUTES = ("all", "clinical", "seven_point")


def load_derm7pt(
    *, data_root: str | os.PathLike | None = None, task: str = "mel_vs_nev", attributes: str = "all"
) -> Recipe:
    """Derm7pt dermoscopy images with the clinical and/or 7-point checklist table.

    Tasks: ``"mel_vs_nev"`` (827 cases of ``split_mel_vs_nev.csv``, label ``label`` = MEL/NEV,
    folds = its train/val/test split) and ``"diagnosis"`` (all 1,011 cases, 20-class label
    ``diagnosis``, folds = stratified 5-fold, seed 0, as there is no official split; a warning names
    the classes with fewer than 5 cases). ``diagnosis`` is never a feature (it is kept as
    ``ignore`` for ``mel_vs_nev``, from which the label is derived).

    Attributes: ``"clinical"`` = sex, management, location, elevation,
    level_of_diagnostic_difficulty (categorical); ``"seven_point"`` = the 7 checklist criteria
    (categorical) + ``seven_point_score`` (numerical); ``"all"`` = both. Note that ``management``
    is a clinical decision (in this data every melanoma was excised) and is therefore strongly
    linked to the diagnosis.

    Args:
        data_root: the shared data folder (see :func:`resolve_data_root`).
        task: ``"mel_vs_nev"`` or ``"diagnosis"``.
        attributes: ``"all"``, ``"clinical"`` or ``"seven_point"``.

    Returns:
        The recipe, image column ``image`` relative to ``<root>/derm7pt``.

    Raises:
        ValueError: on an unknown task or attribute set.
        FileNotFoundError: when a data file is missing.
        SplitError: when the split file names unknown cases or splits.

    Example:
        >>> recipe = load_derm7pt(task="mel_vs_nev", attributes="clinical")  # doctest: +SKIP
        >>> recipe.table["label"].value_counts().to_dict()  # doctest: +SKIP
        {'NEV': 575, 'MEL': 252}
    """
    _check_option("derm7pt", "task", task, _DERM7PT_TASKS)
    _check_option("derm7pt", "attributes", attributes, _DERM7PT_ATTRIBUTES)
    folder = resolve_data_root(data_root) / "derm7pt"
    meta_csv = folder / "meta.csv"
    meta = _strip_cells(_read_csv(meta_csv))

    categorical: list[str] = []
    numerical: list[str] = []
    if attributes in ("all", "clinical"):
        categorical += list(DERM7PT_CLINICAL)
    if attributes in ("all", "seven_point"):
        categorical += list(DERM7PT_SEVEN_POINT)
        numerical.append("seven_point_score")
    features = categorical + numerical

    if task == "mel_vs_nev":
        split_csv = folder / "split_mel_vs_nev.csv"
        split = _read_csv(split_csv)
        unknown = sorted(set(split["case_id"]) - set(meta["case_id"]))
        if unknown:
            raise SplitError("cases not in meta.csv", file=str(split_csv), column="case_id", rows=unknown)
        bad = [i + 2 for i, s in enumerate(split["split"]) if s not in ("train", "val", "test")]
        if bad:
            raise SplitError("split must be train, val or test", file=str(split_csv), column="split", rows=bad)
        frame = split[["case_id", "label"]].merge(meta, on="case_id", how="left", validate="one_to_one")
        frame = frame[["case_id", "image", "label", "diagnosis", *features]]
        folds: dict[str, Any] = dict(zip(split["case_id"], split["split"]))
        label, ignore = "label", ["diagnosis"]
        detail = "melanoma vs nevus, official 346/161/320 train/val/test split"
    else:
        frame = meta[["case_id", "image", "diagnosis", *features]].copy()
        label, ignore = "diagnosis", []
        folds = _stratified_folds(frame["case_id"].tolist(), frame["diagnosis"].tolist(), what="derm7pt/diagnosis")
        detail = "20-class diagnosis, stratified 5-fold (seed 0; no official split exists)"

    used = set(frame.columns)
    spec = _spec(
        subject_id="case_id",
        label=label,
        task="classification",
        classes=["NEV", "MEL"] if task == "mel_vs_nev" else None,
        image=["image"],
        numerical=numerical,
        categorical=categorical,
        ignore=ignore,
        columns={k: v for k, v in _DERM7PT_COLUMNS.items() if k in used},
    )
    description = (
        f"Derm7pt dermoscopy (Kawahara et al. 2018, via the MIT-licensed Derm7pt+ crops): {detail}; "
        f"attributes '{attributes}'. 'management' is a clinical decision linked to the diagnosis."
    )
    return Recipe(
        name=f"derm7pt/{task}",
        table=frame.reset_index(drop=True),
        spec=spec,
        folds=folds,
        image_root=folder,
        description=description,
        options={"task": task, "attributes": attributes},
    ).validate()


_register_recipe(
    "derm7pt",
    loader=load_derm7pt,
    options={"task": _DERM7PT_TASKS, "attributes": _DERM7PT_ATTRIBUTES},
    summary="Derm7pt dermoscopy (2D RGB) + clinical / 7-point table; MEL vs NEV or diagnosis",
)
