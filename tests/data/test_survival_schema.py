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
"""Survival task in the schema, the synthetic survival cohort and EncodeLabeld: values and bad-input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from monai_tabular.data import SchemaError, TableDataError, TableSchema, read_table
from monai_tabular.data.synthetic import make_synthetic_cohort
from monai_tabular.transforms import EncodeLabeld

SPEC = {"subject_id": "sid", "task": "survival", "time": "months", "event": "died"}


def _csv(tmp_path, **changes):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sid": [f"s{i}" for i in range(12)], "age": rng.normal(60, 5, 12).round(1),
                          "months": rng.uniform(1, 50, 12).round(1), "died": [1, 0] * 6})
    for column, (row, value) in changes.items():
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    return path


def test_survival_schema_fits_cuts_and_roundtrips(tmp_path):
    path = _csv(tmp_path)
    schema = TableSchema.from_table(path, SPEC).fit(path)
    assert schema.task == "survival" and schema.labels == ["months", "died"]
    cuts = schema.label_stats["months"]["cuts"]
    assert cuts[0] == 0 and all(b > a for a, b in zip(cuts, cuts[1:]))
    assert cuts[-1] > read_table(path)["months"].astype(float).max()
    schema.save(tmp_path / "schema.json")
    again = TableSchema.load(tmp_path / "schema.json")
    assert again.survival == {"time": "months", "event": "died"} and again.labels == ["months", "died"]
    assert "months" not in again.features and "died" not in again.features
    label = EncodeLabeld("label", schema=again)({"label": "12.5", "died": "1"})["label"]
    assert label.dtype == torch.float32 and label.tolist() == [12.5, 1.0]


@pytest.mark.parametrize("column,row,value,message", [
    ("died", 3, 2, "0 \\(censored\\) or 1"),
    ("died", 4, "yes", "0 \\(censored\\) or 1"),
    ("months", 5, -3.0, "must be >= 0"),
    ("months", 6, "", "label is empty"),
    ("months", 7, "soon", "non-numeric"),
])
def test_bad_survival_values_name_column_and_line(tmp_path, column, row, value, message):
    path = _csv(tmp_path, **{column: (row, value)})
    schema = TableSchema.from_table(path, SPEC)
    with pytest.raises(TableDataError, match=message) as info:
        schema.fit(path)
    assert f"column '{column}'" in str(info.value) and f"line {row + 2}" in str(info.value)


def test_no_events_in_training_rows_is_refused(tmp_path):
    path = _csv(tmp_path)
    frame = read_table(path)
    frame["died"] = "0"
    with pytest.raises(TableDataError, match="no events") as info:
        TableSchema.from_table(frame, SPEC).fit(frame)
    assert "column 'died'" in str(info.value)


def test_survival_without_time_and_event_columns_is_refused(tmp_path):
    path = _csv(tmp_path)
    with pytest.raises(SchemaError, match="'time' and 'event'"):
        TableSchema.from_table(path, {"subject_id": "sid", "task": "survival", "time": "months"})
    with pytest.raises(SchemaError, match="need task 'survival'"):
        TableSchema.from_table(path, {"subject_id": "sid", "label": "died", "time": "months", "event": "died"})


def test_regression_nan_target_names_column_and_line(tmp_path):
    path = _csv(tmp_path, age=(2, ""))
    schema = TableSchema.from_table(path, {"subject_id": "sid", "label": "age", "task": "regression"})
    with pytest.raises(TableDataError, match="label is empty") as info:
        schema.fit(path)
    assert "column 'age'" in str(info.value) and "line 4" in str(info.value)


def test_synthetic_survival_hazard_depends_on_image_and_table(tmp_path):
    cohort = make_synthetic_cohort(tmp_path / "c", n_subjects=300, spatial_dims=2, image_size=[8, 8],
                                   task="survival")
    frame = read_table(cohort.csv_path)
    truth = pd.read_csv(cohort.root / "truth.csv")
    time, event = frame["time"].astype(float).to_numpy(), frame["event"].astype(int).to_numpy()
    assert 0.2 < event.mean() < 0.9
    from sksurv.metrics import concordance_index_censored

    for latent in ("z_img", "z_tab"):
        c = concordance_index_censored(event.astype(bool), time, truth[latent].to_numpy())[0]
        assert c > 0.6, latent
    both = concordance_index_censored(event.astype(bool), time, (truth["z_img"] + truth["z_tab"]).to_numpy())[0]
    assert both > max(concordance_index_censored(event.astype(bool), time, truth[z].to_numpy())[0]
                      for z in ("z_img", "z_tab"))
    schema = TableSchema.from_table(frame, cohort.spec).fit(frame)
    assert schema.task == "survival" and "label" not in schema.features
    plain = make_synthetic_cohort(tmp_path / "p", n_subjects=300, spatial_dims=2, image_size=[8, 8])
    assert read_table(plain.csv_path)["label"].tolist() == frame["label"].tolist()  # same cohort otherwise


def test_a_fold_part_without_events_is_refused_naming_the_part(tmp_path):
    from monai_tabular.engines.setup import prepare_fold

    cohort = make_synthetic_cohort(tmp_path / "c", n_subjects=30, spatial_dims=2, image_size=[8, 8],
                                   task="survival")
    frame = read_table(cohort.csv_path)
    test_ids = list(frame["subject_id"][:5])
    frame = pd.read_csv(cohort.csv_path, dtype=str, keep_default_na=False)
    frame.loc[frame["subject_id"].isin(test_ids), "event"] = "0"
    csv = tmp_path / "no_test_events.csv"
    frame.to_csv(csv, index=False)
    folds = tmp_path / "folds.csv"
    parts = ["test" if s in test_ids else "val" if i % 5 == 0 else "train" for i, s in enumerate(frame["subject_id"])]
    pd.DataFrame({"subject_id": frame["subject_id"], "fold": parts}).to_csv(folds, index=False)
    with pytest.raises(ValueError, match="test part .* no events in column 'event'"):
        prepare_fold(output_dir=tmp_path / "run", csv=csv, spec=cohort.spec, folds=folds,
                     image_root=cohort.root, check_images="exists")
