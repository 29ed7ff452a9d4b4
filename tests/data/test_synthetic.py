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
"""Tests of the synthetic paired image + table cohort generator."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from monai_tabular.data.synthetic import (
    CSV_COLUMNS,
    LABEL_CLASSES,
    SyntheticCohort,
    default_cohort_dir,
    make_synthetic_cohort,
    synthetic_cohort_spec,
)

EXPECTED_SPEC_KEYS = {
    "subject_id": "subject_id",
    "label": "label",
    "task": "classification",
    "image": ["image"],
    "numerical": ["age", "biomarker"],
    "categorical": ["sex", "site", "smoker"],
    "text": ["notes"],
}


def _load(path: Path) -> np.ndarray:
    if path.name.endswith(".nii.gz"):
        return np.asanyarray(nib.load(str(path)).dataobj)
    return np.asarray(Image.open(path))


def _read_csv(cohort: SyntheticCohort) -> pd.DataFrame:
    return pd.read_csv(cohort.csv_path, keep_default_na=False, na_values=[""], dtype=str)


def _all_images(cohort: SyntheticCohort) -> dict[str, np.ndarray]:
    return {p.name: _load(p) for p in sorted(cohort.image_dir.iterdir())}


@pytest.mark.parametrize(
    "spatial_dims, image_size, expected_shape, suffix",
    [(3, None, (32, 32, 32), ".nii.gz"), (2, None, (64, 64), ".png"), (2, (24, 40), (24, 40), ".png")],
)
def test_cohort_layout(tmp_path, spatial_dims, image_size, expected_shape, suffix):
    n = 96 if image_size is None else 20
    cohort = make_synthetic_cohort(tmp_path / "c", n_subjects=n, spatial_dims=spatial_dims, image_size=image_size)
    assert isinstance(cohort, SyntheticCohort)
    assert cohort.root == tmp_path / "c"
    assert cohort.csv_path == cohort.root / "cohort.csv" and cohort.csv_path.is_file()
    assert cohort.image_dir == cohort.root / "images"
    assert cohort.truth_path.is_file() and cohort.manifest_path.is_file()
    assert (cohort.spatial_dims, cohort.n_subjects) == (spatial_dims, n)
    assert {k: cohort.spec[k] for k in EXPECTED_SPEC_KEYS} == EXPECTED_SPEC_KEYS
    assert set(cohort.spec["columns"]) == set(CSV_COLUMNS)
    assert cohort.spec["columns"]["age"] == {"description": "age", "unit": "years"}
    assert cohort.spec["columns"]["biomarker"] == {"description": "serum biomarker level", "unit": "ng/mL"}

    df = _read_csv(cohort)
    assert tuple(df.columns) == CSV_COLUMNS
    assert len(df) == n
    assert list(df["subject_id"]) == [f"sub-{i:04d}" for i in range(n)]
    assert list(df["image"]) == [f"images/sub-{i:04d}{suffix}" for i in range(n)]
    # Missing cells only in biomarker, site and smoker, about missing_rate of them (exact count).
    n_missing = round(0.1 * n)
    for col in CSV_COLUMNS:
        expected = n_missing if col in ("biomarker", "site", "smoker") else 0
        assert df[col].isna().sum() == expected, col
    assert set(df["sex"]) == {"F", "M"}
    assert set(df["site"].dropna()) <= {"A", "B", "C"}
    assert set(df["smoker"].dropna()) == {"yes", "no"}
    assert set(df["label"]) == set(LABEL_CLASSES)
    assert df["notes"].str.len().min() > 0
    age = df["age"].astype(float)
    assert age.between(18, 100).all()
    assert (df["biomarker"].dropna().astype(float) > 0).all()
    if n >= 96:
        assert 0.3 <= (df["label"] == "case").mean() <= 0.7
        assert len(set(df["site"].dropna())) == 3

    for rel in df["image"]:
        arr = _load(cohort.root / rel)
        assert arr.shape == expected_shape and arr.dtype == np.uint8
        assert arr.std() > 0
    if spatial_dims == 3:
        img = nib.load(str(cohort.root / df["image"][0]))
        assert img.header.get_zooms() == (1.0, 1.0, 1.0)
        np.testing.assert_allclose(img.affine, np.eye(4))

    truth = pd.read_csv(cohort.truth_path)
    assert list(truth.columns) == ["subject_id", "z_img", "z_tab"]
    assert list(truth["subject_id"]) == list(df["subject_id"])
    manifest = json.loads(cohort.manifest_path.read_text())
    assert manifest["parameters"]["image_size"] == list(expected_shape)
    assert manifest["parameters"]["spatial_dims"] == spatial_dims


def test_label_follows_latent_scores(tmp_path):
    cohort = make_synthetic_cohort(tmp_path, n_subjects=300, image_size=(16, 16, 16), seed=3)
    df, truth = _read_csv(cohort), pd.read_csv(cohort.truth_path)
    y = (df["label"] == "case").to_numpy()
    score = (truth["z_img"] + truth["z_tab"]).to_numpy()
    assert ((score > 0) == y).mean() > 0.8
    for z in ("z_img", "z_tab"):  # both latent scores are roughly standard normal
        assert abs(truth[z].mean()) < 0.25 and 0.75 < truth[z].std() < 1.25


def test_missing_rate_zero_and_spec_copy(tmp_path):
    cohort = make_synthetic_cohort(tmp_path, n_subjects=10, spatial_dims=2, image_size=(16, 16), missing_rate=0.0)
    assert not _read_csv(cohort).isna().any().any()
    cohort.spec["numerical"].append("oops")
    assert synthetic_cohort_spec()["numerical"] == ["age", "biomarker"]


@pytest.mark.parametrize("spatial_dims, size", [(3, (16, 16, 16)), (2, (32, 32))])
def test_deterministic_by_seed(tmp_path, spatial_dims, size):
    kw = dict(n_subjects=24, spatial_dims=spatial_dims, image_size=size)
    a = make_synthetic_cohort(tmp_path / "a", seed=7, **kw)
    b = make_synthetic_cohort(tmp_path / "b", seed=7, **kw)
    c = make_synthetic_cohort(tmp_path / "c", seed=8, **kw)
    assert a.csv_path.read_bytes() == b.csv_path.read_bytes()
    assert a.truth_path.read_bytes() == b.truth_path.read_bytes()
    imgs_a, imgs_b, imgs_c = _all_images(a), _all_images(b), _all_images(c)
    assert imgs_a.keys() == imgs_b.keys() == imgs_c.keys()
    for name in imgs_a:
        np.testing.assert_array_equal(imgs_a[name], imgs_b[name])
    assert a.csv_path.read_bytes() != c.csv_path.read_bytes()
    assert not all(np.array_equal(imgs_a[k], imgs_c[k]) for k in imgs_a)


def test_idempotent_reuse(tmp_path):
    kw = dict(n_subjects=6, spatial_dims=2, image_size=(16, 16), seed=1)
    first = make_synthetic_cohort(tmp_path, **kw)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    stamps = {p: p.stat().st_mtime_ns for p in files}
    second = make_synthetic_cohort(tmp_path, **kw)
    assert second == first
    assert {p: p.stat().st_mtime_ns for p in files} == stamps  # nothing rewritten
    # image_size=None resolves to the default, so it matches an explicit default size.
    c = make_synthetic_cohort(tmp_path / "d", n_subjects=3, spatial_dims=2)
    stamp = c.csv_path.stat().st_mtime_ns
    make_synthetic_cohort(tmp_path / "d", n_subjects=3, spatial_dims=2, image_size=(64, 64))
    assert c.csv_path.stat().st_mtime_ns == stamp
    # A cohort with a file deleted is completed again.
    (first.image_dir / "sub-0002.png").unlink()
    make_synthetic_cohort(tmp_path, **kw)
    assert (first.image_dir / "sub-0002.png").is_file()


def test_refuses_foreign_directory(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    user_file = target / "cohort_notes.txt"
    user_file.write_text("keep me")
    with pytest.raises(FileExistsError, match="mine"):
        make_synthetic_cohort(target, n_subjects=4, spatial_dims=2, image_size=(16, 16))
    assert sorted(p.name for p in target.iterdir()) == ["cohort_notes.txt"]

    cohort = make_synthetic_cohort(target, n_subjects=4, spatial_dims=2, image_size=(16, 16), overwrite=True)
    assert user_file.read_text() == "keep me"
    assert len(_read_csv(cohort)) == 4

    # Another set of parameters in a folder holding a cohort: refused, then allowed with overwrite.
    with pytest.raises(FileExistsError, match="mine"):
        make_synthetic_cohort(target, n_subjects=5, spatial_dims=2, image_size=(16, 16))
    user_image = cohort.image_dir / "my_scan.png"
    user_image.write_bytes(b"not ours")
    cohort = make_synthetic_cohort(target, n_subjects=5, spatial_dims=2, image_size=(16, 16), overwrite=True)
    assert len(_read_csv(cohort)) == 5
    assert user_file.read_text() == "keep me" and user_image.read_bytes() == b"not ours"

    # An existing empty folder is fine; a file in place of the folder is not.
    (tmp_path / "empty").mkdir()
    make_synthetic_cohort(tmp_path / "empty", n_subjects=2, spatial_dims=2, image_size=(16, 16))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileExistsError, match="afile"):
        make_synthetic_cohort(tmp_path / "afile", n_subjects=2, spatial_dims=2, image_size=(16, 16), overwrite=True)


def test_corrupt_manifest_counts_as_foreign(tmp_path):
    kw = dict(n_subjects=3, spatial_dims=2, image_size=(16, 16))
    cohort = make_synthetic_cohort(tmp_path, **kw)
    cohort.manifest_path.write_text("{not json")
    with pytest.raises(FileExistsError):
        make_synthetic_cohort(tmp_path, **kw)
    make_synthetic_cohort(tmp_path, overwrite=True, **kw)
    assert json.loads(cohort.manifest_path.read_text())["parameters"]["n_subjects"] == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_subjects": 0},
        {"n_subjects": 2.5},
        {"spatial_dims": 4},
        {"spatial_dims": 2, "image_size": (16, 16, 16)},
        {"image_size": (4, 16, 16)},
        {"image_size": "32"},
        {"missing_rate": 1.0},
        {"missing_rate": -0.1},
        {"seed": -1},
        {"seed": True},
    ],
)
def test_invalid_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        make_synthetic_cohort(tmp_path / "c", **kwargs)
    assert not (tmp_path / "c").exists()


def test_default_cohort_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MONAI_TABULAR_CACHE", str(tmp_path))
    assert default_cohort_dir() == tmp_path / "synthetic"
    monkeypatch.delenv("MONAI_TABULAR_CACHE")
    assert default_cohort_dir() == Path.home() / ".cache" / "monai_tabular" / "synthetic"


def _image_features(cohort: SyntheticCohort, df: pd.DataFrame) -> np.ndarray:
    feats = []
    for rel in df["image"]:
        arr = _load(cohort.root / rel).astype(np.float32)
        smooth = ndimage.uniform_filter(arr, size=3)
        feats.append([smooth.max(), np.median(arr), arr.std()])
    return np.asarray(feats)


def _table_features(df: pd.DataFrame) -> np.ndarray:
    bio = df["biomarker"].astype(float)
    cols = {
        "age": df["age"].astype(float),
        "biomarker": bio.fillna(bio.median()),
        "biomarker_missing": bio.isna().astype(float),
        "male": (df["sex"] == "M").astype(float),
    }
    for site in ("A", "B", "C"):
        cols[f"site_{site}"] = (df["site"] == site).astype(float)
    return pd.DataFrame(cols).to_numpy(float)


def _cv_auc(x: np.ndarray, y: np.ndarray) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return float(cross_val_score(model, x, y, cv=cv, scoring="roc_auc").mean())


@pytest.mark.parametrize(
    "spatial_dims, size, seed", [(3, (16, 16, 16), 0), (3, (16, 16, 16), 1), (3, (16, 16, 16), 2), (2, (32, 32), 0)]
)
def test_both_modalities_beat_each_alone(tmp_path, spatial_dims, size, seed):
    cohort = make_synthetic_cohort(tmp_path, n_subjects=400, spatial_dims=spatial_dims, image_size=size, seed=seed)
    df = _read_csv(cohort)
    y = (df["label"] == "case").to_numpy(int)
    x_img, x_tab = _image_features(cohort, df), _table_features(df)
    auc_img, auc_tab = _cv_auc(x_img, y), _cv_auc(x_tab, y)
    auc_both = _cv_auc(np.hstack([x_img, x_tab]), y)
    assert auc_img > 0.6 and auc_tab > 0.6, (auc_img, auc_tab)
    assert auc_both >= max(auc_img, auc_tab) + 0.05, (auc_img, auc_tab, auc_both)
    assert auc_both < 0.99  # informative, not trivial
