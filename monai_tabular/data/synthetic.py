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
"""A small synthetic cohort of paired images and clinical table rows, for demos and tests.

The label of each subject depends on a pattern in its image *and* on values in its table row, so
that a model that sees both does measurably better than one that sees only the image or only the
table. Everything is deterministic given the seed.

Generative model (per subject):

* ``z_img ~ N(0, 1)`` sets the contrast of a bright sphere (3D) or disc (2D) of random radius at a
  random location over a noisy background with a random linear bias field and a small
  site-dependent scanner offset.
* ``z_tab = (0.8 * b + 0.45 * a + 0.4 * s) / 1.0012`` is roughly ``N(0, 1)``, where ``b`` is the
  standardized (hidden, true) biomarker level, ``a`` the standardized age and ``s`` is +1 for
  ``M`` and -1 for ``F``. Smokers have a raised biomarker level.
* ``label = "case" if z_img + z_tab + 0.5 * eps > 0 else "control"`` with ``eps ~ N(0, 1)``, so
  the classes are roughly balanced. Where ``biomarker`` is missing in the CSV, the label still
  used its hidden true value.

With ``task="survival"`` the CSV also holds ``time`` and ``event``: the event time is exponential with hazard
``0.1 * exp(z_img + z_tab)`` and is censored by an independent ``Uniform(0, 30)`` time (``event`` 1 when the
event comes first), so both modalities carry survival information.

``site``, ``smoker`` and ``notes`` carry no direct signal on the label (``site`` shifts image
intensities, ``smoker`` shifts the biomarker), as in real cohorts.

Example:
    >>> from monai_tabular.data.synthetic import make_synthetic_cohort
    >>> import tempfile
    >>> cohort = make_synthetic_cohort(tempfile.mkdtemp(), n_subjects=32, spatial_dims=2)
    >>> cohort.csv_path.name
    'cohort.csv'
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SyntheticCohort",
    "make_synthetic_cohort",
    "default_cohort_dir",
    "synthetic_cohort_spec",
    "CSV_COLUMNS",
    "LABEL_CLASSES",
]

#: Columns of ``cohort.csv``, in order.
CSV_COLUMNS = ("subject_id", "image", "age", "biomarker", "sex", "site", "smoker", "notes", "label")
#: Label strings: index 0 is the negative class, index 1 the positive class.
LABEL_CLASSES = ("control", "case")
#: Columns that have missing (empty) cells in ``cohort.csv``.
MISSING_COLUMNS = ("biomarker", "site", "smoker")

# Bumped whenever the generated data changes, so that cached cohorts are not reused across versions.
_GENERATOR_VERSION = 2
_GENERATOR_NAME = "monai_tabular.data.synthetic.make_synthetic_cohort"
_MANIFEST_NAME = "cohort.json"
_CSV_NAME = "cohort.csv"
_TRUTH_NAME = "truth.csv"
_IMAGE_DIR_NAME = "images"
_DEFAULT_SIZES = {2: (64, 64), 3: (32, 32, 32)}
_SPACING_MM = 1.0

# Table model.
_AGE_MEAN, _AGE_SD, _AGE_MIN, _AGE_MAX = 62.0, 10.0, 40, 90
_P_MALE, _P_SMOKER = 0.5, 0.3
_SMOKER_SHIFT = 0.8  # in biomarker SD units (of the non-smoker part)
_BIO_MEAN, _BIO_SCALE = 20.0, 4.0  # ng/mL = _BIO_MEAN + _BIO_SCALE * latent
_W_BIO, _W_AGE, _W_SEX = 0.8, 0.45, 0.4
_SITES = ("A", "B", "C")
_SITE_P = (0.45, 0.35, 0.20)
_SITE_OFFSET = (0.0, 0.04, -0.04)  # scanner intensity offset per site (image units, 0..1)
_VISITS = ("baseline visit", "follow-up visit", "screening visit", "referral visit")
_FINDINGS = (
    "no complaints",
    "reports mild headaches",
    "reports fatigue",
    "history of hypertension",
    "family history of dementia",
    "no significant history",
    "reports poor sleep",
)
# Label model.
_LABEL_NOISE = 0.5
# Image model (intensities in 0..1 before the conversion to uint8).
_BACKGROUND = 0.25
_NOISE_SD = 0.05
_BIAS_SD = 0.03  # SD of the linear bias field's value at the image border, per axis
_CONTRAST_MEAN, _CONTRAST_PER_Z, _CONTRAST_MIN = 0.3, 0.15, 0.02
_RADIUS_FRACTION = (0.10, 0.16)  # blob radius as a fraction of the smallest image side

_COLUMN_DOCS: dict[str, dict[str, str]] = {
    "subject_id": {"description": "subject identifier"},
    "image": {"description": "path of the subject's image, relative to the CSV's folder"},
    "age": {"description": "age", "unit": "years"},
    "biomarker": {"description": "serum biomarker level", "unit": "ng/mL"},
    "sex": {"description": "sex"},
    "site": {"description": "acquisition site"},
    "smoker": {"description": "smoking status"},
    "notes": {"description": "clinical note"},
    "label": {"description": "diagnosis"},
}


def synthetic_cohort_spec(task: str = "classification") -> dict[str, Any]:
    """Return the table-schema spec describing the synthetic ``cohort.csv`` (a fresh copy).

    Returns:
        A spec dict with keys ``subject_id``, ``label``, ``task``, ``image``, ``numerical``,
        ``categorical``, ``text`` and ``columns`` (per-column ``description`` and, for numerical
        columns, ``unit``).

    Example:
        >>> spec = synthetic_cohort_spec()
        >>> spec["numerical"]
        ['age', 'biomarker']
        >>> synthetic_cohort_spec(task="survival")["time"]
        'time'
    """
    if task == "survival":
        spec = synthetic_cohort_spec()
        del spec["label"], spec["classes"]
        return spec | {"task": "survival", "time": "time", "event": "event", "ignore": ["label"]}
    return {
        "subject_id": "subject_id",
        "label": "label",
        "task": "classification",
        "classes": list(LABEL_CLASSES),
        "image": ["image"],
        "numerical": ["age", "biomarker"],
        "categorical": ["sex", "site", "smoker"],
        "text": ["notes"],
        "columns": copy.deepcopy(_COLUMN_DOCS),
    }


@dataclass(frozen=True)
class SyntheticCohort:
    """A synthetic cohort written on disk by :func:`make_synthetic_cohort`.

    Attributes:
        root: the cohort folder.
        csv_path: ``root / "cohort.csv"``, one row per subject (columns in :data:`CSV_COLUMNS`).
        image_dir: ``root / "images"``.
        spatial_dims: 2 (PNG images) or 3 (NIfTI images).
        n_subjects: number of subjects (rows of the CSV).
        spec: the table-schema spec of the CSV (see :func:`synthetic_cohort_spec`).

    Example:
        >>> import tempfile
        >>> cohort = make_synthetic_cohort(tempfile.mkdtemp(), n_subjects=16, spatial_dims=2)
        >>> import pandas as pd
        >>> len(pd.read_csv(cohort.csv_path)) == cohort.n_subjects
        True
    """

    root: Path
    csv_path: Path
    image_dir: Path
    spatial_dims: int
    n_subjects: int
    spec: dict = field(default_factory=synthetic_cohort_spec, compare=False)

    @property
    def truth_path(self) -> Path:
        """``root / "truth.csv"``: the hidden latent scores (``subject_id``, ``z_img``, ``z_tab``).

        Example:
            >>> import tempfile
            >>> make_synthetic_cohort(tempfile.mkdtemp(), n_subjects=16, spatial_dims=2).truth_path.name
            'truth.csv'
        """
        return self.root / _TRUTH_NAME

    @property
    def manifest_path(self) -> Path:
        """``root / "cohort.json"``: the generation parameters.

        Example:
            >>> import tempfile
            >>> make_synthetic_cohort(tempfile.mkdtemp(), n_subjects=16, spatial_dims=2).manifest_path.name
            'cohort.json'
        """
        return self.root / _MANIFEST_NAME


def default_cohort_dir() -> Path:
    """Default parent folder for cached synthetic cohorts.

    ``$MONAI_TABULAR_CACHE/synthetic`` when the environment variable is set, else
    ``~/.cache/monai_tabular/synthetic``. Nothing is created.

    Returns:
        The folder path.

    Example:
        >>> cohort = make_synthetic_cohort(default_cohort_dir() / "3d-seed0")  # doctest: +SKIP
    """
    base = os.environ.get("MONAI_TABULAR_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "monai_tabular"
    return root / "synthetic"


def make_synthetic_cohort(
    output_dir: str | os.PathLike,
    *,
    n_subjects: int = 96,
    spatial_dims: int = 3,
    image_size: Sequence[int] | None = None,
    missing_rate: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
    task: str = "classification",
) -> SyntheticCohort:
    """Write (or reuse) a synthetic paired image + table cohort in ``output_dir``.

    Files written (and only these):

    * ``images/sub-0000.nii.gz`` ... (3D): uint8 NIfTI-1, shape ``image_size``, 1 mm isotropic
      voxels, affine ``diag(1, 1, 1, 1)`` (RAS+, origin at voxel 0), units mm.
    * ``images/sub-0000.png`` ... (2D): 8-bit grayscale PNG; ``numpy.asarray(PIL.Image.open(p))``
      has shape ``image_size`` (rows, columns); nominal 1 mm pixels.
    * ``cohort.csv``: columns ``subject_id, image, age, biomarker, sex, site, smoker, notes,
      label``. ``image`` is relative to ``output_dir``. Missing cells are empty: exactly
      ``round(missing_rate * n_subjects)`` random cells in each of ``biomarker``, ``site`` and
      ``smoker``; never elsewhere. ``label`` is ``"control"`` or ``"case"``.
    * ``truth.csv``: ``subject_id, z_img, z_tab`` (the latent scores; for tests and analyses).
    * ``cohort.json``: the manifest of the generation parameters, written last.

    The same parameters give byte-identical CSVs and identical image arrays. If ``output_dir``
    already holds a complete cohort whose manifest matches the parameters, it is returned as is
    without rewriting anything (delete ``cohort.json`` to force regeneration).

    Args:
        output_dir: folder to write into; created if needed.
        n_subjects: number of subjects (>= 1).
        spatial_dims: 3 for NIfTI volumes, 2 for PNG images.
        image_size: image shape; default ``(32, 32, 32)`` for 3D and ``(64, 64)`` for 2D. Each
            side must be >= 8.
        missing_rate: fraction of missing cells in ``biomarker``, ``site`` and ``smoker``, in
            ``[0, 1)``.
        seed: non-negative integer seed.
        overwrite: allow writing into a non-empty folder that does not hold a cohort made with the
            same parameters. Only the files listed above are overwritten; nothing is deleted, so
            stale images of an earlier, larger cohort may remain (the CSV never lists them).

    Returns:
        The :class:`SyntheticCohort` describing the files.

    Raises:
        ValueError: an argument is out of range.
        FileExistsError: ``output_dir`` is a file, or is a non-empty folder not holding a cohort
            with the same parameters, and ``overwrite`` is False.

    Example:
        >>> import tempfile
        >>> cohort = make_synthetic_cohort(tempfile.mkdtemp(), n_subjects=8, image_size=(16, 16, 16))
        >>> cohort.spec["label"], cohort.spatial_dims
        ('label', 3)
    """
    params = _validate(n_subjects, spatial_dims, image_size, missing_rate, seed)
    if task not in ("classification", "survival"):
        raise ValueError(f"task must be 'classification' or 'survival', got {task!r}")
    if task != "classification":  # absent for classification, so earlier cohorts keep their manifest
        params["task"] = task
    root = Path(output_dir).expanduser()
    manifest = _manifest(params)
    cohort = SyntheticCohort(
        root=root,
        csv_path=root / _CSV_NAME,
        image_dir=root / _IMAGE_DIR_NAME,
        spatial_dims=params["spatial_dims"],
        n_subjects=params["n_subjects"],
        spec=synthetic_cohort_spec(task=task),
    )
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"output_dir '{root}' exists and is not a folder")
    if root.is_dir():
        existing = _read_manifest(root / _MANIFEST_NAME)
        if existing is not None and existing.get("parameters") == manifest["parameters"]:
            if _is_complete(root, params):
                return cohort
            # Our own cohort with the same parameters, but files are missing: write it again.
        elif any(root.iterdir()) and not overwrite:
            raise FileExistsError(
                f"output_dir '{root}' is not empty and does not hold a synthetic cohort made with "
                f"these parameters ({_format_params(params)}); choose an empty or new folder, or "
                "pass overwrite=True to write the cohort's files into it (other files are kept)"
            )
    _write_cohort(root, params, manifest)
    return cohort


# ----------------------------------------------------------------------------------------------
# internals
# ----------------------------------------------------------------------------------------------


_BASE_HAZARD, _CENSOR_MAX = 0.1, 30.0


def _validate(n_subjects, spatial_dims, image_size, missing_rate, seed) -> dict[str, Any]:
    def _is_int(v) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if not _is_int(n_subjects) or n_subjects < 1:
        raise ValueError(f"n_subjects must be an integer >= 1, got {n_subjects!r}")
    if n_subjects > 9999:
        raise ValueError(f"n_subjects must be <= 9999 (ids are sub-0000..sub-9999), got {n_subjects}")
    if not _is_int(spatial_dims) or spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    spatial_dims = int(spatial_dims)
    if image_size is None:
        size = _DEFAULT_SIZES[spatial_dims]
    else:
        if isinstance(image_size, (str, bytes)) or not isinstance(image_size, Sequence):
            raise ValueError(f"image_size must be a sequence of {spatial_dims} integers, got {image_size!r}")
        if len(image_size) != spatial_dims or not all(_is_int(s) for s in image_size):
            raise ValueError(
                f"image_size must have {spatial_dims} integers for spatial_dims={spatial_dims}, got {image_size!r}"
            )
        size = tuple(int(s) for s in image_size)
        if min(size) < 8 or max(size) > 1024:
            raise ValueError(f"each side of image_size must be in [8, 1024], got {size}")
    if isinstance(missing_rate, (bool, np.bool_)) or not isinstance(missing_rate, (int, float, np.floating)):
        raise ValueError(f"missing_rate must be a number in [0, 1), got {missing_rate!r}")
    if not (0.0 <= float(missing_rate) < 1.0):
        raise ValueError(f"missing_rate must be in [0, 1), got {missing_rate!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return {
        "n_subjects": int(n_subjects),
        "spatial_dims": spatial_dims,
        "image_size": list(size),
        "missing_rate": float(missing_rate),
        "seed": int(seed),
    }


def _format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _manifest(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "generator": _GENERATOR_NAME,
        "parameters": {"generator_version": _GENERATOR_VERSION, **params},
        "spacing_mm": _SPACING_MM,
        "files": {
            "csv": _CSV_NAME,
            "truth": _TRUTH_NAME,
            "images": f"{_IMAGE_DIR_NAME}/sub-NNNN{_suffix(params['spatial_dims'])}",
        },
        "label_classes": list(LABEL_CLASSES),
        "spec": synthetic_cohort_spec(task=params.get("task", "classification")),
    }


def _read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when absent or not one of ours (then the folder is foreign)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("generator") != _GENERATOR_NAME:
        return None
    return data


def _suffix(spatial_dims: int) -> str:
    return ".nii.gz" if spatial_dims == 3 else ".png"


def _subject_ids(n: int) -> list[str]:
    return [f"sub-{i:04d}" for i in range(n)]


def _is_complete(root: Path, params: dict[str, Any]) -> bool:
    if not ((root / _CSV_NAME).is_file() and (root / _TRUTH_NAME).is_file()):
        return False
    suffix = _suffix(params["spatial_dims"])
    image_dir = root / _IMAGE_DIR_NAME
    return all((image_dir / f"{sid}{suffix}").is_file() for sid in _subject_ids(params["n_subjects"]))


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so that readers never see a partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _csv_bytes(header: Sequence[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _table(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Draw the latent scores, table values, labels and missingness (vectorized)."""
    n = params["n_subjects"]
    age = np.clip(np.rint(rng.normal(_AGE_MEAN, _AGE_SD, n)), _AGE_MIN, _AGE_MAX).astype(int)
    male = rng.random(n) < _P_MALE
    smoker = rng.random(n) < _P_SMOKER
    site = rng.choice(len(_SITES), size=n, p=_SITE_P)
    # Biomarker latent: smokers have raised levels; standardized with its population moments.
    smoker_c = smoker.astype(float) - _P_SMOKER
    bio_latent = rng.normal(0.0, 1.0, n) + _SMOKER_SHIFT * smoker_c
    bio_sd = math.sqrt(1.0 + _SMOKER_SHIFT**2 * _P_SMOKER * (1.0 - _P_SMOKER))
    biomarker = np.round(np.maximum(_BIO_MEAN + _BIO_SCALE * bio_latent, 0.1), 2)
    bio_std = (biomarker - _BIO_MEAN) / (_BIO_SCALE * bio_sd)
    age_std = (age - _AGE_MEAN) / _AGE_SD
    sex_pm = np.where(male, 1.0, -1.0)
    norm = math.sqrt(_W_BIO**2 + _W_AGE**2 + _W_SEX**2)
    z_tab = (_W_BIO * bio_std + _W_AGE * age_std + _W_SEX * sex_pm) / norm
    z_img = rng.normal(0.0, 1.0, n)
    label = (z_img + z_tab + _LABEL_NOISE * rng.normal(0.0, 1.0, n)) > 0
    notes = [
        f"{_VISITS[v]}, {_FINDINGS[f]}"
        for v, f in zip(rng.integers(0, len(_VISITS), n), rng.integers(0, len(_FINDINGS), n))
    ]
    n_missing = int(round(params["missing_rate"] * n))
    missing = {col: np.zeros(n, dtype=bool) for col in MISSING_COLUMNS}
    for col in MISSING_COLUMNS:
        missing[col][rng.choice(n, size=n_missing, replace=False)] = True
    return {
        "age": age,
        "male": male,
        "smoker": smoker,
        "site": site,
        "biomarker": biomarker,
        "z_tab": z_tab,
        "z_img": z_img,
        "label": label,
        "notes": notes,
        "missing": missing,
    }


def _image(size: Sequence[int], z_img: float, site_offset: float, rng: np.random.Generator) -> np.ndarray:
    """One image (uint8): a sphere/disc of contrast set by ``z_img`` over a noisy, biased background."""
    size = tuple(size)
    grids = [np.arange(s, dtype=np.float32) for s in size]

    def shape1(ax: int) -> tuple[int, ...]:  # broadcastable shape along axis ``ax``
        return tuple(-1 if a == ax else 1 for a in range(len(size)))

    img = rng.normal(_BACKGROUND + site_offset, _NOISE_SD, size).astype(np.float32)
    # Linear bias field, zero at the centre.
    for ax, s in enumerate(size):
        slope = rng.normal(0.0, _BIAS_SD) / (s / 2.0)
        img += (slope * (grids[ax] - (s - 1) / 2.0)).reshape(shape1(ax))
    # Blob fully inside the image, with an anti-aliased edge.
    radius = rng.uniform(*_RADIUS_FRACTION) * min(size)
    dist2 = np.zeros(size, dtype=np.float32)
    for ax, s in enumerate(size):
        lo, hi = radius + 1.0, s - radius - 2.0
        centre = rng.uniform(lo, hi) if hi > lo else (s - 1) / 2.0
        dist2 = dist2 + ((grids[ax] - centre) ** 2).reshape(shape1(ax))
    mask = np.clip(radius + 0.5 - np.sqrt(dist2), 0.0, 1.0)
    contrast = max(_CONTRAST_MEAN + _CONTRAST_PER_Z * z_img, _CONTRAST_MIN)
    img += np.float32(contrast) * mask
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def _nifti_bytes(arr: np.ndarray) -> bytes:
    import nibabel as nib

    img = nib.Nifti1Image(arr, np.diag([_SPACING_MM] * 3 + [1.0]))
    img.header.set_xyzt_units("mm")
    img.header.set_qform(img.affine, code=1)
    img.header.set_sform(img.affine, code=1)
    # gzip with mtime=0 so that the files are byte-identical across runs too.
    return gzip.compress(img.to_bytes(), compresslevel=6, mtime=0)


def _png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _write_cohort(root: Path, params: dict[str, Any], manifest: dict[str, Any]) -> None:
    n, dims = params["n_subjects"], params["spatial_dims"]
    seq = np.random.SeedSequence(params["seed"])
    table_seq, image_seq, survival_seq = seq.spawn(3)  # the first two as in cohorts without survival
    t = _table(params, np.random.default_rng(table_seq))
    image_dir = root / _IMAGE_DIR_NAME
    image_dir.mkdir(parents=True, exist_ok=True)
    ids = _subject_ids(n)
    suffix = _suffix(dims)
    encode = _nifti_bytes if dims == 3 else _png_bytes
    for i, (sid, sub_seq) in enumerate(zip(ids, image_seq.spawn(n))):
        rng = np.random.default_rng(sub_seq)
        arr = _image(params["image_size"], float(t["z_img"][i]), _SITE_OFFSET[t["site"][i]], rng)
        _atomic_write(image_dir / f"{sid}{suffix}", encode(arr))

    miss = t["missing"]
    rows = []
    for i, sid in enumerate(ids):
        rows.append(
            [
                sid,
                f"{_IMAGE_DIR_NAME}/{sid}{suffix}",
                int(t["age"][i]),
                "" if miss["biomarker"][i] else f"{t['biomarker'][i]:.2f}",
                "M" if t["male"][i] else "F",
                "" if miss["site"][i] else _SITES[t["site"][i]],
                "" if miss["smoker"][i] else ("yes" if t["smoker"][i] else "no"),
                t["notes"][i],
                LABEL_CLASSES[int(t["label"][i])],
            ]
        )
    header = CSV_COLUMNS
    if params.get("task") == "survival":
        rng = np.random.default_rng(survival_seq)
        event_time = rng.exponential(1.0 / (_BASE_HAZARD * np.exp(t["z_img"] + t["z_tab"])))
        censor_time = rng.uniform(0.0, _CENSOR_MAX, n)
        header = (*CSV_COLUMNS, "time", "event")
        for row, e, c in zip(rows, event_time, censor_time):
            row.extend([f"{min(e, c):.3f}", int(e <= c)])
    truth = [[sid, f"{t['z_img'][i]:.6f}", f"{t['z_tab'][i]:.6f}"] for i, sid in enumerate(ids)]
    _atomic_write(root / _TRUTH_NAME, _csv_bytes(("subject_id", "z_img", "z_tab"), truth))
    _atomic_write(root / _CSV_NAME, _csv_bytes(header, rows))
    # The manifest goes last: its presence marks a complete cohort.
    _atomic_write(root / _MANIFEST_NAME, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
