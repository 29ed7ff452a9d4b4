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
"""UCI Multiple Features (mfeat) recipe: the 16x15 digit pixel view as PNG images + tabular views."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from monai_tabular.data.errors import TableDataError
from monai_tabular.data.recipes.base import (
    CACHE_ENV_VAR,
    Recipe,
    _as_str,
    _register_recipe,
    _require_file,
    _spec,
    _stratified_folds,
    resolve_data_root,
)

__all__ = ["MFEAT_VIEWS", "MFEAT_VIEW_SIZES", "MFEAT_IMAGE_SHAPE", "mfeat_to_uint8", "mfeat_from_uint8", "load_mfeat"]

logger = logging.getLogger(__name__)

MFEAT_VIEWS = ("fou", "fac", "kar", "zer", "mor")
MFEAT_VIEW_SIZES = {"pix": 240, "fou": 76, "fac": 216, "kar": 64, "zer": 47, "mor": 6}
MFEAT_IMAGE_SHAPE = (16, 15)
_MFEAT_VIEW_DESCRIPTIONS = {
    "fou": "Fourier coefficient of the character shape",
    "fac": "profile correlation",
    "kar": "Karhunen-Loeve coefficient",
    "zer": "Zernike moment",
    "mor": "morphological feature",
}


def _mfeat_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    base = os.environ.get(CACHE_ENV_VAR)
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "monai_tabular") / "mfeat"


def _read_mfeat_view(folder: Path, view: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read ``mfeat-<view>.csv``: header of column indices 0..n-1 then the label column."""
    path = folder / f"mfeat-{view}.csv"
    _require_file(path)
    with path.open() as handle:
        header = [h.strip() for h in handle.readline().split(",")]
    size = MFEAT_VIEW_SIZES[view]
    if len(header) != size + 1 or header[:size] != [str(i) for i in range(size)]:
        raise TableDataError(
            f"expected a header of the column indices 0..{size - 1} then the label column, "
            f"got {len(header)} columns",
            file=str(path),
            rows=[1],
        )
    data = pd.read_csv(path, header=None, skiprows=1, dtype=str)
    if data.shape[1] != size + 1:
        raise TableDataError(f"expected {size + 1} columns, got {data.shape[1]}", file=str(path))
    data = data.astype(object).where(data.notna(), np.nan)  # str cells (pandas 2 and 3), NaN if missing
    if data.isna().any().any():
        rows = (np.where(data.isna().any(axis=1))[0] + 2).tolist()
        raise TableDataError("mfeat has no missing values; empty cells found", file=str(path), rows=rows)
    features = data.iloc[:, :size]
    features.columns = [f"{view}_{i}" for i in range(size)]
    return features.reset_index(drop=True), data.iloc[:, size].reset_index(drop=True)


def _mfeat_pixels(pix: pd.DataFrame, path: Path) -> np.ndarray:
    """The pixel view as an (n, 16, 15) uint8 array of values 0..6 (checked)."""
    numbers = pix.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers > 6) | (numbers != np.round(numbers))
    if bad.any():
        rows, cols = np.where(bad)
        raise TableDataError(
            "pixel values must be integers 0..6", file=str(path), column=str(cols[0]), rows=(rows + 2).tolist()
        )
    return numbers.astype(np.uint8).reshape(-1, *MFEAT_IMAGE_SHAPE)


def mfeat_to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale mfeat pixel values 0..6 to 0..255 (rounded half up: 0, 43, 85, 128, 170, 213, 255).

    Args:
        values: integer array of values 0..6.

    Returns:
        uint8 array of the same shape.

    Example:
        >>> mfeat_to_uint8(np.arange(7)).tolist()
        [0, 43, 85, 128, 170, 213, 255]
    """
    return ((np.asarray(values, dtype=np.int64) * 255 + 3) // 6).astype(np.uint8)


def mfeat_from_uint8(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`mfeat_to_uint8`: map 0..255 back to 0..6.

    Args:
        values: uint8 array.

    Returns:
        int array of values 0..6.

    Example:
        >>> mfeat_from_uint8(np.array([0, 43, 85, 128, 170, 213, 255])).tolist()
        [0, 1, 2, 3, 4, 5, 6]
    """
    return np.rint(np.asarray(values, dtype=np.float64) * 6 / 255).astype(np.int64)


def _materialise_mfeat_pngs(images: np.ndarray, names: list[str], cache_dir: Path) -> int:
    """Write each digit as an 8-bit grayscale PNG unless an identical one is already there.

    Returns:
        The number of files written.
    """
    from PIL import Image

    cache_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for pixels, name in zip(images, names):
        target = cache_dir / name
        expected = mfeat_to_uint8(pixels)
        if target.is_file():
            try:
                with Image.open(target) as existing:
                    if existing.mode == "L" and np.array_equal(np.asarray(existing), expected):
                        continue
            except OSError:
                pass  # unreadable: rewrite it
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        Image.fromarray(expected, mode="L").save(tmp, format="PNG")
        os.replace(tmp, target)
        written += 1
    return written


def load_mfeat(
    *,
    data_root: str | os.PathLike | None = None,
    views: list[str] | tuple[str, ...] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Recipe:
    """UCI Multiple Features handwritten digits: the 16x15 pixel view as image + tabular views.

    The pixel view (``mfeat-pix.csv``, 240 values 0..6, reshaped row-major to 16 x 15) is written
    once per digit as an 8-bit grayscale PNG (0..6 scaled to 0..255 by :func:`mfeat_to_uint8`) into
    ``cache_dir``; files already there and identical are left alone. Tabular columns are named
    ``<view>_<i>`` (all numerical), the label ``digit`` is ``"0"``..``"9"``, the subject ids are
    ``mfeat_0000``... (row index) and the folds a stratified 5-fold (seed 0).

    Args:
        data_root: the shared data folder (see :func:`resolve_data_root`).
        views: subset of ``["fou", "fac", "kar", "zer", "mor"]`` (default: all five, in that order).
        cache_dir: folder for the PNGs (default ``$MONAI_TABULAR_CACHE/mfeat`` or
            ``~/.cache/monai_tabular/mfeat``); it must not be inside the data root.

    Returns:
        The recipe (2,000 subjects), image column ``image`` relative to ``cache_dir``.

    Raises:
        ValueError: on an unknown or repeated view, or a cache folder inside the data root.
        FileNotFoundError: when a data file is missing.
        TableDataError: on a malformed file or views whose labels disagree.

    Example:
        >>> recipe = load_mfeat(views=["fou", "mor"], cache_dir="/tmp/mfeat_png")  # doctest: +SKIP
        >>> recipe.spec["numerical"][:2]  # doctest: +SKIP
        ['fou_0', 'fou_1']
    """
    views = list(MFEAT_VIEWS if views is None else ([views] if isinstance(views, str) else views))
    unknown = [v for v in views if v not in MFEAT_VIEWS]
    if unknown or not views or len(set(views)) != len(views):
        raise ValueError(f"mfeat: views must be a non-empty subset of {list(MFEAT_VIEWS)} without repeats, got {views}")
    root = resolve_data_root(data_root)
    folder = root / "mfeat"
    cache = _mfeat_cache_dir(cache_dir).resolve()
    if cache == root or root in cache.parents:
        raise ValueError(f"mfeat: cache_dir '{cache}' is inside the data root '{root}'; choose a folder outside it")

    pix, labels = _read_mfeat_view(folder, "pix")
    images = _mfeat_pixels(pix, folder / "mfeat-pix.csv")
    n = len(labels)
    ids = [f"mfeat_{i:04d}" for i in range(n)]
    names = [f"{sid}.png" for sid in ids]
    blocks = []
    columns: dict[str, dict] = {
        "subject_id": {"description": "row index of the mfeat files"},
        "image": {"description": "16x15 8-bit grayscale PNG of the pixel view (0..6 scaled to 0..255)"},
        "digit": {"description": "handwritten digit 0..9"},
    }
    for view in views:
        features, view_labels = _read_mfeat_view(folder, view)
        if len(view_labels) != n or not view_labels.equals(labels):
            raise TableDataError(
                "rows are not aligned with mfeat-pix.csv (labels differ)", file=str(folder / f"mfeat-{view}.csv")
            )
        blocks.append(features)
        for i, column in enumerate(features.columns):
            columns[column] = {"description": f"mfeat {view} view: {_MFEAT_VIEW_DESCRIPTIONS[view]} {i}"}
    written = _materialise_mfeat_pngs(images, names, cache)
    logger.info("mfeat: %d of %d digit PNGs written to '%s' (the others were already there)", written, n, cache)

    frame = pd.concat(
        [pd.DataFrame({"subject_id": _as_str(ids), "image": _as_str(names), "digit": _as_str(labels)}), *blocks],
        axis=1,
    )
    numerical = [c for block in blocks for c in block.columns]
    spec = _spec(
        subject_id="subject_id",
        label="digit",
        task="classification",
        image=["image"],
        numerical=numerical,
        columns=columns,
    )
    folds = _stratified_folds(ids, labels.tolist(), what="mfeat")
    description = (
        f"UCI Multiple Features handwritten digits (2,000, 200 per class): 16x15 pixel image + "
        f"views {'/'.join(views)}; stratified 5-fold (seed 0)."
    )
    return Recipe(
        name="mfeat/digit",
        table=frame,
        spec=spec,
        folds=folds,
        image_root=cache,
        description=description,
        options={"views": views, "cache_dir": str(cache)},
    ).validate()


_register_recipe(
    "mfeat",
    loader=load_mfeat,
    options={"views": None, "cache_dir": None},
    summary="UCI mfeat digits (16x15 PNG) + 5 tabular views; digit",
)
