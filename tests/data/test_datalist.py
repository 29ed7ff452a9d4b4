# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monai_tabular.data import ImageDataError, TableDataError, TableSchema, build_datalist, read_table


def test_datalist_from_synthetic_csv(cohort3d):
    records = build_datalist(cohort3d.csv_path, cohort3d.spec, check_images="full")
    frame = pd.read_csv(cohort3d.csv_path)
    assert len(records) == len(frame) == cohort3d.n_subjects
    first = records[0]
    assert first["subject_id"] == frame.subject_id[0]
    assert Path(first["image"]).is_absolute() and Path(first["image"]).is_file()
    assert first["label"] == frame.label[0]
    assert set(first["table"]) == {"age", "biomarker", "sex", "site", "smoker", "notes"}
    missing = frame.biomarker.isna().to_numpy()
    assert [r["table"]["biomarker"] is None for r in records] == missing.tolist()
    assert all(isinstance(r["table"]["age"], float) for r in records)


def test_several_image_columns_and_dataframe_input(cohort2d):
    frame = read_table(cohort2d.csv_path)
    frame["second_view"] = frame["image"]
    spec = dict(cohort2d.spec, image=["image", "second_view"])
    records = build_datalist(frame, spec, image_root=cohort2d.root, check_images="header")
    assert records[0]["second_view"] == records[0]["image"]
    assert Path(records[0]["second_view"]).is_file()


def test_missing_and_corrupt_images_name_the_subject(cohort3d, tmp_path):
    frame = read_table(cohort3d.csv_path)
    bad = tmp_path / "corrupt.nii.gz"
    with gzip.open(bad, "wb") as handle:
        handle.write(b"this is not a nifti file" * 20)
    frame.loc[2, "image"] = str(tmp_path / "nowhere.nii.gz")
    frame.loc[3, "image"] = str(bad)
    with pytest.raises(ImageDataError) as info:
        build_datalist(frame, cohort3d.spec, image_root=cohort3d.root, check_images="header")
    message = str(info.value)
    assert "2 problems" in message
    assert f"subject '{frame.loc[2, 'subject_id']}'" in message and "nowhere.nii.gz" in message
    assert f"subject '{frame.loc[3, 'subject_id']}'" in message and "corrupt.nii.gz" in message


def test_truncated_nifti_caught_by_full_check(cohort3d, tmp_path):
    source = Path(build_datalist(cohort3d.csv_path, cohort3d.spec, check_images="none")[0]["image"])
    truncated = tmp_path / "trunc.nii.gz"
    data = gzip.decompress(source.read_bytes())
    truncated.write_bytes(gzip.compress(data[: len(data) // 2]))
    frame = read_table(cohort3d.csv_path)
    frame.loc[2, "image"] = str(truncated)
    build_datalist(frame, cohort3d.spec, image_root=cohort3d.root, check_images="header")  # header is fine
    with pytest.raises(ImageDataError, match="trunc.nii.gz"):
        build_datalist(frame, cohort3d.spec, image_root=cohort3d.root, check_images="full")


def test_empty_image_cell(cohort2d):
    frame = read_table(cohort2d.csv_path)
    frame.loc[4, "image"] = np.nan
    with pytest.raises(TableDataError, match="image path is empty") as info:
        build_datalist(frame, cohort2d.spec, image_root=cohort2d.root)
    assert "line 4" in str(info.value)
    records = build_datalist(frame, cohort2d.spec, image_root=cohort2d.root, allow_missing_images=True)
    assert records[2]["image"] is None


def test_all_table_problems_reported_at_once(cohort2d, tmp_path):
    frame = pd.read_csv(cohort2d.csv_path, dtype=str)
    frame.loc[0, "label"] = np.nan
    frame.loc[1, "subject_id"] = frame.loc[2, "subject_id"]
    frame.loc[3, "age"] = "forty"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    shutil.copytree(cohort2d.image_dir, tmp_path / "images")
    with pytest.raises(TableDataError) as info:
        build_datalist(path, cohort2d.spec)
    message = str(info.value)
    assert "3 problems" in message and "bad.csv" in message
    assert "label is empty" in message and "duplicate subject id" in message and "'forty'" in message


def test_inference_table_without_labels(cohort2d):
    frame = read_table(cohort2d.csv_path).drop(columns=["label"])
    schema = TableSchema.from_table(cohort2d.csv_path, cohort2d.spec).fit(cohort2d.csv_path)
    records = build_datalist(frame, schema, image_root=cohort2d.root, require_labels=False)
    assert "label" not in records[0] and records[0]["table"]["sex"] in ("F", "M")


def test_misspelled_spec_column(cohort2d):
    spec = dict(cohort2d.spec, label="lable")
    with pytest.raises(TableDataError, match="did you mean 'label'"):
        build_datalist(cohort2d.csv_path, spec)
