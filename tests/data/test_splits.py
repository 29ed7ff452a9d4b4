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
"""Tests for monai_tabular.data.splits: subject-wise folds, fold files and leakage checks."""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from monai_tabular.data.errors import SplitError
from monai_tabular.data.splits import (
    check_disjoint,
    fold_summary,
    load_folds,
    save_folds,
    split_records,
    subject_kfold,
    subject_train_val_test_split,
)


def _data_root() -> Path:
    env = os.environ.get("MONAI_TABULAR_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _cohort(n_subjects: int = 100, frac_pos: float = 0.3, visits=(1, 2, 3), labels=("MEL", "NEV")):
    """Records of n_subjects, about frac_pos of them labelled labels[0], with 1-3 visits each."""
    n_pos = int(round(n_subjects * frac_pos))
    records = []
    for i in range(n_subjects):
        label = labels[0] if i < n_pos else labels[1]
        for v in range(visits[i % len(visits)]):
            records.append({"subject_id": f"sub-{i:03d}", "label": label, "image": f"sub-{i:03d}_v{v}.nii.gz"})
    return records


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ subject_kfold
def test_kfold_stratified_and_subject_wise():
    records = _cohort(100, 0.3)
    folds = subject_kfold(records, n_splits=5, seed=0)
    assert len(folds) == 100
    assert sorted(set(folds.values())) == [0, 1, 2, 3, 4]
    labels = {r["subject_id"]: r["label"] for r in records}
    overall = sum(lab == "MEL" for lab in labels.values()) / len(labels)
    for k in range(5):
        members = [s for s, f in folds.items() if f == k]
        assert 15 <= len(members) <= 25
        frac = sum(labels[s] == "MEL" for s in members) / len(members)
        assert abs(frac - overall) <= 0.1, (k, frac, overall)


def test_kfold_subject_with_three_records_stays_in_one_fold():
    records = _cohort(40, 0.5, visits=(3,))
    folds = subject_kfold(records, n_splits=4, seed=3)
    for k in range(4):
        train, val = split_records(records, folds, val_fold=k)
        assert {r["subject_id"] for r in train}.isdisjoint({r["subject_id"] for r in val})
        per_subject = Counter(r["subject_id"] for r in val)
        assert set(per_subject.values()) == {3}


def test_kfold_deterministic_by_seed():
    records = _cohort(60, 0.4)
    assert subject_kfold(records, seed=7) == subject_kfold(records, seed=7)
    assert subject_kfold(records, seed=7) != subject_kfold(records, seed=8)
    # the input order does not matter
    assert subject_kfold(list(reversed(records)), seed=7) == subject_kfold(records, seed=7)


def test_kfold_int_labels_dataframe_and_no_shuffle():
    records = _cohort(30, 0.5, labels=(1, 0))
    frame = pd.DataFrame(records)
    assert subject_kfold(frame, n_splits=3, seed=1) == subject_kfold(records, n_splits=3, seed=1)
    no_shuffle = subject_kfold(records, n_splits=3, shuffle=False)
    assert no_shuffle == subject_kfold(records, n_splits=3, shuffle=False, seed=99)
    assert sorted(set(no_shuffle.values())) == [0, 1, 2]


def test_kfold_subject_index_of_dataframe():
    frame = pd.DataFrame(_cohort(20, 0.5, visits=(1,))).set_index("subject_id")
    folds = subject_kfold(frame, n_splits=4)
    assert len(folds) == 20 and "sub-000" in folds


def test_kfold_unstratified():
    records = _cohort(23, 0.5)
    folds = subject_kfold(records, n_splits=5, label_key=None, seed=0)
    assert len(folds) == 23
    assert sorted(Counter(folds.values()).values()) == [4, 4, 5, 5, 5]
    assert folds == subject_kfold(records, n_splits=5, label_key=None, seed=0)
    assert folds != subject_kfold(records, n_splits=5, label_key=None, seed=1)
    # labels are not needed at all
    no_labels = [{"subject_id": r["subject_id"]} for r in records]
    assert subject_kfold(no_labels, n_splits=5, label_key=None, seed=0) == folds


def test_kfold_missing_subject_key_names_key_and_record():
    records = _cohort(10, 0.5, visits=(1,))
    del records[2]["subject_id"]
    with pytest.raises(SplitError, match=r"record\(s\) 2 .*'subject_id'"):
        subject_kfold(records, n_splits=2)


def test_kfold_missing_label_key_names_key_record_and_subject():
    records = _cohort(10, 0.5, visits=(1,))
    del records[4]["label"]
    with pytest.raises(SplitError) as err:
        subject_kfold(records, n_splits=2)
    msg = str(err.value)
    assert "'label'" in msg and "record(s) 4" in msg and "sub-004" in msg


def test_kfold_empty_subject_id_names_record():
    records = _cohort(10, 0.5, visits=(1,))
    records[3]["subject_id"] = None
    with pytest.raises(SplitError, match=r"record\(s\) 3 .*empty subject id"):
        subject_kfold(records, n_splits=2)


def test_kfold_fewer_subjects_than_folds():
    records = _cohort(3, 0.5, visits=(2,))
    with pytest.raises(SplitError, match=r"n_splits=5 .* 3 subject\(s\)"):
        subject_kfold(records, n_splits=5)
    with pytest.raises(SplitError, match="n_splits"):
        subject_kfold(records, n_splits=1)


def test_kfold_conflicting_labels_names_subject():
    records = _cohort(10, 0.5, visits=(2,))
    records[5]["label"] = "MEL" if records[5]["label"] == "NEV" else "NEV"
    subject = records[5]["subject_id"]
    with pytest.raises(SplitError) as err:
        subject_kfold(records, n_splits=2)
    assert subject in str(err.value) and "different labels" in str(err.value)
    assert err.value.rows == [subject]


def test_kfold_rare_class_warns_naming_it_and_proceeds():
    records = _cohort(30, 0.5, visits=(1,))
    records += [{"subject_id": "rare-1", "label": "SCC"}, {"subject_id": "rare-2", "label": "SCC"}]
    with pytest.warns(UserWarning, match=r"'SCC' \(2\)") as rec:
        folds = subject_kfold(records, n_splits=5)
    assert not any("least populated" in str(w.message) for w in rec)  # sklearn's own warning is replaced
    assert len(folds) == 32 and sorted(set(folds.values())) == [0, 1, 2, 3, 4]
    assert folds["rare-1"] != folds["rare-2"]


def test_kfold_every_class_rarer_than_folds_still_splits():
    records = [{"subject_id": f"s{i}", "label": c} for i, c in enumerate("aabbccd")]
    with pytest.warns(UserWarning, match="'d'"):
        folds = subject_kfold(records, n_splits=5)
    assert len(folds) == 7 and sorted(set(folds.values())) == [0, 1, 2, 3, 4]
    assert folds["s0"] != folds["s1"]  # the two 'a' subjects are spread


# ------------------------------------------------------------------------------- subject_train_val_test_split
def test_train_val_test_split_sizes_stratification_and_determinism():
    records = _cohort(200, 0.3)
    parts = subject_train_val_test_split(records, val_fraction=0.15, test_fraction=0.15, seed=0)
    assert len(parts) == 200
    counts = Counter(parts.values())
    assert counts == {"train": 140, "val": 30, "test": 30}
    labels = {r["subject_id"]: r["label"] for r in records}
    for part in ("train", "val", "test"):
        members = [s for s, p in parts.items() if p == part]
        frac = sum(labels[s] == "MEL" for s in members) / len(members)
        assert abs(frac - 0.3) <= 0.05, (part, frac)
    assert parts == subject_train_val_test_split(records, seed=0)
    assert parts != subject_train_val_test_split(records, seed=1)
    train, val, test = split_records(records, parts, val_fold="val", test_fold="test")
    assert len(train) + len(val) + len(test) == len(records)


def test_train_val_test_split_unstratified_and_no_test():
    records = _cohort(20, 0.5, visits=(1,))
    parts = subject_train_val_test_split(records, val_fraction=0.25, test_fraction=0.0, label_key=None, seed=2)
    assert Counter(parts.values()) == {"train": 15, "val": 5}


def test_train_val_test_split_errors():
    records = _cohort(4, 0.5, visits=(1,))
    with pytest.raises(SplitError, match="val_fraction"):
        subject_train_val_test_split(records, val_fraction=1.2)
    with pytest.raises(SplitError, match="< 1"):
        subject_train_val_test_split(records, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(SplitError, match=r"2 subject\(s\) \('sub-000', 'sub-001'\) .* too few"):
        subject_train_val_test_split(records[:2], val_fraction=0.4, test_fraction=0.4)
    records[1]["label"] = None
    with pytest.raises(SplitError, match=r"record\(s\) 1 .*empty label"):
        subject_train_val_test_split(records, val_fraction=0.25, test_fraction=0.25)


# ------------------------------------------------------------------------------------------- load / save folds
def test_save_load_roundtrip_int_folds(tmp_path):
    folds = subject_kfold(_cohort(25, 0.4), n_splits=5, seed=0)
    path = save_folds(folds, tmp_path / "sub" / "folds.csv")
    assert path.read_text().splitlines()[0] == "subject_id,fold"
    loaded = load_folds(path)
    assert loaded == folds
    assert all(type(f) is int for f in loaded.values())


def test_save_load_roundtrip_string_folds_custom_columns(tmp_path):
    parts = {"derm7pt_0001": "train", "derm7pt_0002": "val", "derm7pt_0003": "test"}
    path = save_folds(parts, tmp_path / "split.csv", subject_column="case_id", fold_column="split")
    assert load_folds(path, subject_column="case_id", fold_column="split") == parts


def test_save_refuses_overwrite(tmp_path):
    path = tmp_path / "folds.csv"
    save_folds({"a": 0, "b": 1}, path)
    with pytest.raises(FileExistsError, match=re.escape(str(path))):
        save_folds({"a": 1, "b": 0}, path)
    assert load_folds(path) == {"a": 0, "b": 1}
    save_folds({"a": 1, "b": 0}, path, overwrite=True)
    assert load_folds(path) == {"a": 1, "b": 0}


def test_save_refuses_missing_fold(tmp_path):
    with pytest.raises(SplitError, match="b"):
        save_folds({"a": 0, "b": None}, tmp_path / "folds.csv")


def test_load_derm7pt_style_split_file(tmp_path):
    path = _write(tmp_path / "split.csv", "case_id,label,split\nd1,NEV,test\nd2,MEL,train\n\nd3,NEV,val\n")
    assert load_folds(path, subject_column="case_id", fold_column="split") == {"d1": "test", "d2": "train", "d3": "val"}


def test_load_mixed_fold_values_stay_strings(tmp_path):
    path = _write(tmp_path / "folds.csv", "subject_id,fold\na,0\nb,holdout\n")
    assert load_folds(path) == {"a": "0", "b": "holdout"}


def test_load_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_folds(missing)


def test_load_missing_column_names_file_column_and_columns(tmp_path):
    path = _write(tmp_path / "folds.csv", "case_id,label,split\nd1,NEV,test\n")
    with pytest.raises(SplitError) as err:
        load_folds(path)
    msg = str(err.value)
    assert str(path) in msg and "'subject_id'" in msg and "'case_id', 'label', 'split'" in msg
    with pytest.raises(SplitError, match=r"no column 'fold'.*'split'"):
        load_folds(path, subject_column="case_id")


def test_load_empty_fold_cell_names_lines(tmp_path):
    path = _write(tmp_path / "folds.csv", "subject_id,fold\na,0\nb,\nc,1\nd\n")
    with pytest.raises(SplitError) as err:
        load_folds(path)
    msg = str(err.value)
    assert "line(s) 3, 5" in msg and "'fold'" in msg and str(path) in msg


def test_load_conflicting_duplicate_names_subject_and_lines(tmp_path):
    path = _write(tmp_path / "folds.csv", "subject_id,fold\na,0\nb,1\na,2\n")
    with pytest.raises(SplitError) as err:
        load_folds(path)
    msg = str(err.value)
    assert "'a'" in msg and "line 2" in msg and "line 4" in msg and str(path) in msg


def test_load_consistent_duplicate_is_fine(tmp_path):
    path = _write(tmp_path / "folds.csv", "subject_id,fold\na,0\nb,1\na,0\n")
    assert load_folds(path) == {"a": 0, "b": 1}


def test_load_empty_file(tmp_path):
    with pytest.raises(SplitError, match="empty"):
        load_folds(_write(tmp_path / "folds.csv", ""))


# --------------------------------------------------------------------------------------------- split_records
def test_split_records_two_and_three_way():
    records = _cohort(10, 0.5, visits=(1, 2))
    folds = {f"sub-{i:03d}": i % 5 for i in range(10)}
    train, val = split_records(records, folds, val_fold=0)
    assert {r["subject_id"] for r in val} == {"sub-000", "sub-005"}
    assert len(train) + len(val) == len(records)
    train, val, test = split_records(records, folds, val_fold=0, test_fold=1)
    assert {r["subject_id"] for r in test} == {"sub-001", "sub-006"}
    assert {folds[r["subject_id"]] for r in train} == {2, 3, 4}
    # a fold given as text (e.g. from a config file) matches the int fold
    assert split_records(records, folds, val_fold="0")[1] == val


def test_split_records_accepts_dataframe():
    frame = pd.DataFrame(_cohort(6, 0.5, visits=(1,)))
    folds = {f"sub-{i:03d}": "val" if i == 0 else "train" for i in range(6)}
    train, val = split_records(frame, folds, val_fold="val")
    assert [r["subject_id"] for r in val] == ["sub-000"] and len(train) == 5


def test_split_records_unknown_fold_lists_existing():
    records = _cohort(4, 0.5, visits=(1,))
    folds = {f"sub-{i:03d}": i % 2 for i in range(4)}
    with pytest.raises(SplitError, match=r"val_fold=7 .*0, 1"):
        split_records(records, folds, val_fold=7)
    with pytest.raises(SplitError, match=r"test_fold='test' .*0, 1"):
        split_records(records, folds, val_fold=0, test_fold="test")
    with pytest.raises(SplitError, match="same fold"):
        split_records(records, folds, val_fold=0, test_fold=0)


def test_split_records_unassigned_error_names_subjects():
    records = _cohort(6, 0.5, visits=(2,))
    folds = {f"sub-{i:03d}": i % 2 for i in range(4)}
    with pytest.raises(SplitError) as err:
        split_records(records, folds, val_fold=0)
    assert "sub-004" in str(err.value) and "sub-005" in str(err.value) and "no fold" in str(err.value)


def test_split_records_unassigned_drop_warns_with_count():
    records = _cohort(6, 0.5, visits=(2,))
    folds = {f"sub-{i:03d}": i % 2 for i in range(4)}
    with pytest.warns(UserWarning, match=r"dropping 4 record\(s\) of 2 subject\(s\)"):
        train, val = split_records(records, folds, val_fold=0, unassigned="drop")
    assert len(train) + len(val) == 8
    assert not {"sub-004", "sub-005"} & {r["subject_id"] for r in train + val}
    with pytest.raises(SplitError, match="unassigned"):
        split_records(records, folds, val_fold=0, unassigned="ignore")


def test_split_records_no_warning_when_all_assigned():
    records = _cohort(4, 0.5, visits=(1,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split_records(records, {f"sub-{i:03d}": i % 2 for i in range(4)}, val_fold=1, unassigned="drop")


# -------------------------------------------------------------------------------------------- check_disjoint
def test_check_disjoint_refuses_leakage_naming_subject_and_parts():
    train = [{"subject_id": "a"}, {"subject_id": "b"}, {"subject_id": "b"}]
    val = [{"subject_id": "b"}, {"subject_id": "c"}]
    with pytest.raises(SplitError) as err:
        check_disjoint(train=train, val=val, test=["c", "d"])
    msg = str(err.value)
    assert "'b' in train, val" in msg and "'c' in val, test" in msg and "'a'" not in msg
    assert sorted(err.value.rows) == ["b", "c"]


def test_check_disjoint_accepts_disjoint_parts_of_any_kind():
    check_disjoint(train=[{"subject_id": 1}, {"subject_id": 1}], val={"2", "3"}, test=pd.DataFrame({"subject_id": [4]}))
    check_disjoint(train=[{"case_id": "x"}], val=[{"case_id": "y"}], subject_key="case_id")
    # ids are compared as text: 1 and "1" are the same subject
    with pytest.raises(SplitError, match="'1' in train, val"):
        check_disjoint(train=[1, 2], val=["1"])


def test_check_disjoint_bad_part():
    with pytest.raises(SplitError, match="part 'train'"):
        check_disjoint(train="abc", val=["d"])
    with pytest.raises(SplitError, match=r"part 'val'.*record\(s\) 0"):
        check_disjoint(train=[{"subject_id": "a"}], val=[{"id": "b"}])


# ---------------------------------------------------------------------------------------------- fold_summary
def test_fold_summary_counts():
    records = _cohort(10, 0.4, visits=(1, 2))
    folds = {f"sub-{i:03d}": i % 2 for i in range(9)}  # sub-009 has no fold
    summary = fold_summary(records, folds)
    assert list(summary.index) == [0, 1, "(unassigned)"]
    assert list(summary.columns) == ["n_subjects", "n_records", "MEL", "NEV"]
    assert summary.loc[0, "n_subjects"] == 5 and summary.loc[1, "n_subjects"] == 4
    assert summary.loc[0, "MEL"] == 2 and summary.loc[1, "MEL"] == 2
    assert summary["n_records"].sum() == len(records)
    assert summary.loc["(unassigned)", "NEV"] == 1
    parts = {f"sub-{i:03d}": p for i, p in enumerate(["test", "val", "train"] * 3 + ["train"])}
    assert list(fold_summary(records, parts, label_key=None).index) == ["train", "val", "test"]


# ------------------------------------------------------------------------------------------------- real data
@pytest.mark.real_data
def test_real_ixi_folds_file():
    path = _data_root() / "ixi_t1_hh" / "folds.csv"
    if not path.is_file():
        pytest.skip(f"real data not found at {path} (set MONAI_TABULAR_DATA to the shared data folder)")
    folds = load_folds(path)
    assert len(folds) == 181
    assert sorted(set(folds.values())) == [0, 1, 2, 3, 4]
    sizes = Counter(folds.values())
    assert min(sizes.values()) >= 30
    check_disjoint(**{str(k): [s for s, f in folds.items() if f == k] for k in range(5)})
