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
"""Missing modalities in the data lists: empty image paths, presence flags, refusal of subjects with neither,
and the seeded test-time modality drop of the missing-modality curve."""

from __future__ import annotations

import pandas as pd
import pytest

from monai_tabular.data import TableDataError
from monai_tabular.engines.setup import drop_modalities, mark_modalities, prepare_fold


def _csv_with_gaps(cohort, tmp_path, *, empty_images=(3, 7), empty_rows=()):
    frame = pd.read_csv(cohort.csv_path, dtype=str, keep_default_na=False)
    frame["image"] = [str(cohort.root / p) for p in frame["image"]]
    for row in empty_images:
        frame.loc[row, "image"] = ""
    for row in empty_rows:
        for column in ("age", "biomarker", "sex", "site", "smoker", "notes"):
            frame.loc[row, column] = ""
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    return path


def test_empty_image_paths_need_the_switch_and_then_mark_the_subject(cohort40, tmp_path):
    csv = _csv_with_gaps(cohort40, tmp_path)
    with pytest.raises(TableDataError, match="allow_missing_images") as info:
        prepare_fold(output_dir=tmp_path / "run", csv=csv, spec=cohort40.spec, n_folds=4)
    assert "line 5" in str(info.value) and "column 'image'" in str(info.value)
    data = prepare_fold(output_dir=tmp_path / "run", csv=csv, spec=cohort40.spec, n_folds=4,
                        allow_missing_images=True)
    records = {r["subject_id"]: r for r in data.train + data.val + data.test}
    assert records["sub-0003"]["image_present"] == 0.0 and records["sub-0007"]["image_present"] == 0.0
    assert records["sub-0003"]["image"]  # a placeholder path, so image transforms run unchanged
    assert all(r["image_present"] == 1.0 for k, r in records.items() if k not in ("sub-0003", "sub-0007"))
    assert all(r["table_present"] == 1.0 for r in records.values())


def test_subject_with_neither_modality_is_refused_with_its_id(cohort40, tmp_path):
    csv = _csv_with_gaps(cohort40, tmp_path, empty_images=(3,), empty_rows=(3, 5))
    with pytest.raises(ValueError, match="sub-0003") as info:
        prepare_fold(output_dir=tmp_path / "run", csv=csv, spec=cohort40.spec, n_folds=4,
                     allow_missing_images=True)
    assert "sub-0005" not in str(info.value)  # it lacks its table cells but keeps its image


def test_mark_modalities_flags_an_empty_table_row():
    records = mark_modalities([{"subject_id": "a", "image": "a.png", "table": {"x": None, "y": None}},
                               {"subject_id": "b", "image": None, "table": {"x": 1.0, "y": None}}],
                              placeholder="a.png")
    assert [(r["image_present"], r["table_present"]) for r in records] == [(1.0, 0.0), (0.0, 1.0)]
    assert records[1]["image"] == "a.png"


@pytest.mark.parametrize("image_fraction,table_fraction", [(0.0, 0.0), (0.25, 0.0), (0.0, 0.75), (1.0, 0.0),
                                                            (0.5, 0.5), (1.0, 1.0)])
def test_drop_modalities_is_seeded_and_never_drops_both(image_fraction, table_fraction):
    records = [{"subject_id": f"s{i}", "image_present": 1.0, "table_present": 1.0} for i in range(20)]
    first = drop_modalities(records, image_fraction=image_fraction, table_fraction=table_fraction, seed=3)
    again = drop_modalities(records, image_fraction=image_fraction, table_fraction=table_fraction, seed=3)
    assert first == again and records[0]["image_present"] == 1.0  # seeded, and the input is not changed
    assert all(r["image_present"] + r["table_present"] >= 1 for r in first)
    assert sum(r["image_present"] == 0 for r in first) == round(20 * image_fraction)
    if image_fraction + table_fraction <= 1:
        assert sum(r["table_present"] == 0 for r in first) == round(20 * table_fraction)
    other = drop_modalities(records, image_fraction=0.5, seed=4)
    assert image_fraction != 0.5 or [r["image_present"] for r in other] != [r["image_present"] for r in first]
    with pytest.raises(ValueError, match="image_fraction"):
        drop_modalities(records, image_fraction=1.5)
