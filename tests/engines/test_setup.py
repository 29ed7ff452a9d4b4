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
"""``prepare_fold`` on the synthetic cohort: subject-wise parts, schema fit on train only, fold choice."""

from __future__ import annotations

import pandas as pd
import pytest

from monai_tabular.data import build_datalist, read_table
from monai_tabular.data.schema import TableSchema
from monai_tabular.data.splits import subject_kfold
from monai_tabular.engines import prepare_fold


def _synthetic(cohort) -> dict:
    return {"root": str(cohort.root), "n_subjects": cohort.n_subjects, "spatial_dims": 2, "image_size": [16, 16],
            "seed": 0}


def _ids(part) -> set[str]:
    return {r["subject_id"] for r in part}


def _assignment(cohort, n_folds=5, seed=0) -> dict:
    table = read_table(cohort.csv_path)
    records = build_datalist(table, TableSchema.from_table(table, cohort.spec), image_root=cohort.root,
                             check_images="none")
    return subject_kfold(records, n_splits=n_folds, seed=seed, label_key="label")


@pytest.mark.parametrize("fold", [0, 4])
def test_parts_disjoint_and_test_is_fold_val_is_next(cohort40, tmp_path, fold):
    data = prepare_fold(output_dir=tmp_path / "run", synthetic=_synthetic(cohort40), fold=fold, n_folds=5)
    train, val, test = _ids(data.train), _ids(data.val), _ids(data.test)
    assert train and val and test
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(train) + len(val) + len(test) == 40
    assignment = _assignment(cohort40)
    assert test == {s for s, f in assignment.items() if f == fold}
    assert val == {s for s, f in assignment.items() if f == (fold + 1) % 5}
    assert data.source["test_fold"] == fold and data.source["val_fold"] == (fold + 1) % 5
    assert (data.spatial_dims, data.in_channels) == (2, 1)
    assert data.num_outputs == 2 and data.class_names == ["control", "case"]


def test_schema_fit_on_train_subjects_only(cohort40, tmp_path):
    data = prepare_fold(output_dir=tmp_path / "run", synthetic=_synthetic(cohort40), fold=0)
    assert data.schema.is_fitted
    assert data.schema.source["n_rows_fit"] == len(data.train) < 40
    saved = TableSchema.load(tmp_path / "run" / "schema.json")
    assert saved.source["n_rows_fit"] == len(data.train)
    assert data.schema_path == tmp_path / "run" / "schema.json"
    # the schema is what one gets by fitting the train rows alone
    table = read_table(cohort40.csv_path)
    rows = table[table["subject_id"].astype(str).isin(_ids(data.train))]
    expected = TableSchema.from_table(table, cohort40.spec).fit(rows)
    assert saved.to_dict()["columns"] == expected.to_dict()["columns"]
    # class weights come from the training split (mean 1)
    assert sum(data.class_weights) == pytest.approx(2.0)


def test_max_subjects_keeps_every_class(cohort40, tmp_path):
    data = prepare_fold(output_dir=tmp_path / "run", synthetic=_synthetic(cohort40), fold=0, max_subjects=4)
    assert len(data.train) == 4 and len(data.val) <= 4 and len(data.test) <= 4
    for part in (data.train, data.val, data.test):
        assert {r["label"] for r in part} == {"case", "control"}
    assert data.schema.source["n_rows_fit"] == 4


def test_evaluation_without_saved_schema_says_train_first(cohort40, tmp_path):
    with pytest.raises(FileNotFoundError, match="train this fold first"):
        prepare_fold(output_dir=tmp_path / "never_trained", synthetic=_synthetic(cohort40), fold=0,
                     fit_schema=False)


def test_evaluation_loads_the_saved_schema(cohort40, tmp_path):
    trained = prepare_fold(output_dir=tmp_path / "run", synthetic=_synthetic(cohort40), fold=0)
    before = (tmp_path / "run" / "schema.json").read_text()
    evaluated = prepare_fold(output_dir=tmp_path / "run", synthetic=_synthetic(cohort40), fold=0, fit_schema=False)
    assert (tmp_path / "run" / "schema.json").read_text() == before
    assert evaluated.schema.to_dict() == trained.schema.to_dict()
    assert _ids(evaluated.test) == _ids(trained.test)


def test_unknown_fold_is_refused(cohort40, tmp_path):
    with pytest.raises(ValueError, match="fold 7"):
        prepare_fold(output_dir=tmp_path / "run", synthetic=_synthetic(cohort40), fold=7)


def test_train_val_test_split_file_is_honoured(cohort40, tmp_path):
    table = pd.read_csv(cohort40.csv_path, dtype=str, keep_default_na=False)
    subjects = list(table["subject_id"])
    parts = {"train": subjects[:24], "val": subjects[24:30], "test": subjects[30:38]}  # 2 subjects left out
    rows = [{"subject_id": s, "fold": name} for name, ids in parts.items() for s in ids]
    folds_csv = tmp_path / "split.csv"
    pd.DataFrame(rows).sample(frac=1.0, random_state=0).to_csv(folds_csv, index=False)
    with pytest.warns(UserWarning, match="sub-0038"):  # subjects without a fold are dropped, with a warning
        data = prepare_fold(output_dir=tmp_path / "run", csv=cohort40.csv_path, spec=cohort40.spec, folds=folds_csv)
    assert _ids(data.train) == set(parts["train"])
    assert _ids(data.val) == set(parts["val"])
    assert _ids(data.test) == set(parts["test"])
    assert data.source["val_fold"] == "val" and data.source["test_fold"] == "test"
    assert data.schema.source["n_rows_fit"] == 24
    split = data.save_split(tmp_path / "run" / "split.json")
    assert split.is_file()
