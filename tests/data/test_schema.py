# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monai_tabular.data import SchemaError, TableDataError, TableSchema, read_table
from monai_tabular.data.schema import canonical_category, humanize


def make_frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "subject_id": [f"s{i:03d}" for i in range(n)],
        "scan": [f"images/s{i:03d}.nii.gz" for i in range(n)],
        "age_years": rng.uniform(20, 80, n).round(1),
        "weight_kg": rng.normal(70, 10, n).round(1),
        "sex": rng.choice(["F", "M"], n),
        "site_code": rng.choice([1.0, 2.0, 3.0], n),
        "report": [f"patient number {i} reports mild headache since {i % 7} days" for i in range(n)],
        "outcome": rng.choice(["good", "poor"], n),
    })


def write_csv(frame, path):
    frame.to_csv(path, index=False)
    return path


def test_infers_roles_and_descriptions():
    schema = TableSchema.from_table(make_frame(), {"label": "outcome"})
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {"subject_id": "subject_id", "scan": "image", "age_years": "numerical",
                     "weight_kg": "numerical", "sex": "categorical", "site_code": "categorical",
                     "report": "text", "outcome": "label"}
    assert schema["weight_kg"].description == "weight" and schema["weight_kg"].unit == "kg"
    assert schema["sex"].inferred and not schema["outcome"].inferred
    assert "inferred" in schema.describe()


def test_spec_overrides_and_infer_false():
    frame = make_frame()
    spec = {"label": "outcome", "categorical": ["age_years"], "ignore": ["report"],
            "columns": {"weight_kg": {"description": "body weight", "template": "Weight: {value}."}}}
    schema = TableSchema.from_table(frame, spec)
    assert schema["age_years"].role == "categorical" and schema["report"].role == "ignore"
    assert schema["weight_kg"].description == "body weight"
    strict = TableSchema.from_table(frame, {"label": "outcome", "numerical": ["weight_kg"], "infer": False})
    assert strict.features == ["weight_kg"] and strict.subject_id is None


def test_misspelled_spec_column_is_named():
    with pytest.raises(SchemaError, match=r"'wieght_kg'.*did you mean 'weight_kg'"):
        TableSchema.from_table(make_frame(), {"label": "outcome", "numerical": ["wieght_kg"]})


def test_bad_template_field_is_an_error():
    with pytest.raises(SchemaError, match="unknown field"):
        TableSchema.from_table(make_frame(), {"label": "outcome",
                                              "columns": {"sex": {"template": "The {colour} is {value}."}}})


def test_fit_uses_training_rows_only_and_is_robust():
    frame = make_frame(60)
    frame.loc[0, "weight_kg"] = 10_000.0  # an outlier
    frame.loc[1:6, "weight_kg"] = np.nan
    train, test = frame.iloc[:40], frame.iloc[40:]
    schema = TableSchema.from_table(frame, {"label": "outcome"}).fit(train)
    weight = schema["weight_kg"]
    observed = train["weight_kg"].dropna()
    assert weight.center == pytest.approx(observed.median())
    assert weight.scale < 3 * observed.drop(0).std()  # the outlier does not inflate the scale
    assert weight.missing_rate == pytest.approx(6 / 40)
    assert weight.n_observed == 34
    assert sorted(weight.marginal) == sorted(observed.tolist())
    assert schema.source["n_rows_fit"] == 40
    refit = TableSchema.from_table(frame, {"label": "outcome"}).fit(test)
    assert refit["age_years"].center != schema["age_years"].center


def test_categorical_vocabulary_and_unknown_index():
    frame = make_frame()
    schema = TableSchema.from_table(frame, {"label": "outcome"}).fit(frame)
    assert schema["site_code"].categories == ["1", "2", "3"]  # "1.0" is canonicalised
    assert schema.cardinalities == [3, 4]
    encoded = schema.encode_row({"sex": "X", "site_code": "2", "age_years": None, "weight_kg": 70})
    assert encoded["categorical"].tolist() == [0, 2] and encoded["categorical_mask"].tolist() == [1, 1]
    assert encoded["numerical_mask"].tolist() == [0, 1] and encoded["numerical"][0] == 0


def test_encode_frame_matches_encode_row():
    frame = make_frame()
    frame.loc[3, "sex"] = np.nan
    frame.loc[5, "age_years"] = np.nan
    schema = TableSchema.from_table(frame, {"label": "outcome"}).fit(frame)
    arrays = schema.encode_frame(frame)
    for i in (0, 3, 5):
        row = schema.encode_row(frame.iloc[i].to_dict())
        for key in row:
            np.testing.assert_allclose(arrays[key][i], row[key], rtol=1e-6)


def test_labels_classification_and_regression():
    frame = make_frame()
    schema = TableSchema.from_table(frame, {"label": "outcome"}).fit(frame)
    assert schema.label_classes == {"outcome": ["good", "poor"]} and schema.num_classes == 2
    assert schema.encode_label("poor") == 1 and schema.decode_label(1) == "poor"
    with pytest.raises(TableDataError, match="'fair' was not seen"):
        schema.encode_label("fair")
    regression = TableSchema.from_table(frame, {"label": "weight_kg", "task": "regression"}).fit(frame)
    z = regression.encode_label(80.0)
    assert regression.decode_label(z) == pytest.approx(80.0)


def test_save_load_roundtrip_and_no_overwrite(tmp_path):
    frame = make_frame()
    schema = TableSchema.from_table(frame, {"label": "outcome"}).fit(frame)
    path = schema.save(tmp_path / "schema.json")
    with pytest.raises(FileExistsError):
        schema.save(path)
    loaded = TableSchema.load(path)
    for key, value in schema.encode_frame(frame).items():
        np.testing.assert_array_equal(loaded.encode_frame(frame)[key], value)
    assert loaded.label_classes == schema.label_classes
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(SchemaError, match="not a monai_tabular schema"):
        TableSchema.load(tmp_path / "other.json")


# ---------------------------------------------------------------- bad input, each named
def test_missing_column_named(tmp_path):
    frame = make_frame()
    schema = TableSchema.from_table(frame, {"label": "outcome"}).fit(frame)
    path = write_csv(frame.drop(columns=["weight_kg"]), tmp_path / "new.csv")
    with pytest.raises(SchemaError, match=r"lacks column\(s\) \['weight_kg'\]") as info:
        schema.validate(path)
    assert "new.csv" in str(info.value)


def test_label_nan_names_lines(tmp_path):
    frame = make_frame()
    frame.loc[[2, 7], "outcome"] = np.nan
    path = write_csv(frame, tmp_path / "c.csv")
    schema = TableSchema.from_table(path, {"label": "outcome"})
    with pytest.raises(TableDataError, match="label is empty") as info:
        schema.validate(path)
    assert "line 4" in str(info.value) and "line 9" in str(info.value) and "'outcome'" in str(info.value)


def test_duplicate_subject_id_named(tmp_path):
    frame = make_frame()
    frame.loc[5, "subject_id"] = "s001"
    path = write_csv(frame, tmp_path / "c.csv")
    with pytest.raises(TableDataError, match=r"duplicate subject id\(s\) \['s001'\]") as info:
        TableSchema.from_table(path, {"subject_id": "subject_id", "label": "outcome"}).validate(path)
    assert "line 3" in str(info.value) and "line 7" in str(info.value)


def test_numerical_column_with_text_named(tmp_path):
    frame = make_frame().astype({"weight_kg": object})
    frame.loc[4, "weight_kg"] = "70kg"
    path = write_csv(frame, tmp_path / "c.csv")
    schema = TableSchema.from_table(path, {"label": "outcome"})
    assert schema["weight_kg"].role == "numerical"  # mostly numbers: the stray text is an error, not a category
    with pytest.raises(TableDataError, match=r"non-numeric value\(s\) \['70kg'\]") as info:
        schema.fit(path)
    assert "line 6" in str(info.value) and "'weight_kg'" in str(info.value)
    fitted = TableSchema.from_table(make_frame(), {"label": "outcome"}).fit(make_frame())
    with pytest.raises(TableDataError, match="70kg"):
        fitted.encode_row({"weight_kg": "70kg"})


def test_all_empty_column_named(tmp_path):
    frame = make_frame()
    frame["notes"] = np.nan
    path = write_csv(frame, tmp_path / "c.csv")
    with pytest.raises(TableDataError, match="empty in every row") as info:
        TableSchema.from_table(path, {"label": "outcome"}).fit(path)
    assert "'notes'" in str(info.value)


def test_schema_from_another_table(tmp_path):
    frame = make_frame()
    schema = TableSchema.from_table(frame, {"label": "outcome"}).fit(frame)
    other = pd.DataFrame({"patient": ["a", "b"], "bmi": [20.0, 30.0], "outcome": ["good", "poor"]})
    with pytest.raises(SchemaError, match="fits another table"):
        schema.validate(other)


def test_unseen_category_at_inference_is_unknown_not_error(tmp_path):
    frame = make_frame()
    schema = TableSchema.from_table(frame, {"label": "outcome"}).fit(frame)
    new = frame.head(3).copy()
    new["sex"] = ["other", "F", "M"]
    new["site_code"] = [9.0, 1.0, 2.0]
    arrays = schema.encode_frame(new)
    assert arrays["categorical"][0].tolist() == [0, 0]
    assert arrays["categorical_mask"][0].tolist() == [1, 1]


def test_read_table_keeps_csv_lines_and_refuses_bad_headers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,a,b\nx, 1 ,\ny,NA,3\n")
    frame = read_table(path)
    assert list(frame.index) == [2, 3]
    assert frame.loc[2, "a"] == "1" and pd.isna(frame.loc[2, "b"]) and pd.isna(frame.loc[3, "a"])
    (tmp_path / "dup.csv").write_text("id,a,a\nx,1,2\n")
    with pytest.raises(TableDataError, match=r"duplicated column header\(s\) \['a'\]"):
        read_table(tmp_path / "dup.csv")
    (tmp_path / "empty.csv").write_text("id,,b\nx,1,2\n")
    with pytest.raises(TableDataError, match="empty column header"):
        read_table(tmp_path / "empty.csv")


def test_helpers():
    assert humanize("height_cm") == ("height", "cm")
    assert humanize("BloodPressure") == ("blood pressure", None)
    assert canonical_category("2.0") == "2" and canonical_category(3.0) == "3"
    assert canonical_category("2.5") == "2.5" and canonical_category(None) is None


def test_declared_class_order():
    frame = make_frame()
    schema = TableSchema.from_table(frame, {"label": "outcome", "classes": ["poor", "good"]})
    assert schema.num_classes == 2
    schema.fit(frame)
    assert schema.label_classes["outcome"] == ["poor", "good"] and schema.encode_label("good") == 1
    with pytest.raises(TableDataError, match=r"\['poor'\] are not among the declared classes"):
        TableSchema.from_table(frame, {"label": "outcome", "classes": ["good", "fair"]}).fit(frame)
    with pytest.raises(SchemaError, match="distinct"):
        TableSchema.from_table(frame, {"label": "outcome", "classes": ["good", "good"]})
