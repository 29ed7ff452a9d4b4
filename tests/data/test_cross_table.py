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
"""Cross-table data: cohorts with their own columns and schemas, header vocabulary, cells, per-batch padding,
label subsets, and the ``EncodeCrossTabled`` transform."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.data import SchemaError, TableSchema, build_datalist, read_table
from monai_tabular.data.cross_table import (
    cell_texts,
    collate_cross_table,
    encode_cells,
    header_vocabulary,
    label_subset,
    prepare_cross_table,
)
from monai_tabular.data.schema import ColumnSchema
from monai_tabular.transforms.cross_table import EncodeCrossTabled

COHORTS = [{"name": "demographics", "columns": ["age", "sex", "site"], "share": 2.0},
           {"name": "lab", "columns": ["biomarker", "smok*"], "share": 1.0, "shuffle": False}]


@pytest.fixture(scope="module")
def fitted(cohort2d):
    table = read_table(cohort2d.csv_path)
    schema = TableSchema.from_table(table, cohort2d.spec).fit(table)
    records = build_datalist(table, schema, image_root=cohort2d.root, check_images="none")
    return schema, records


def test_cohorts_are_disjoint_with_their_own_columns_and_statistics(fitted):
    schema, records = fitted
    data = prepare_cross_table(records=records, schema=schema, cohorts=COHORTS, seed=3)
    by_cohort = {name: [r for r in data.train if r["cohort"] == name] for name in data.schemas}
    assert len(by_cohort["demographics"]) == 16 and len(by_cohort["lab"]) == 8  # shares 2:1 of 24
    assert not {r["subject_id"] for r in by_cohort["demographics"]} & {r["subject_id"] for r in by_cohort["lab"]}
    demo, lab = data.schemas["demographics"], data.schemas["lab"]
    assert sorted(demo.features) == ["age", "sex", "site"] and lab.features == ["biomarker", "smoker"]
    ages = [r["table"]["age"] for r in by_cohort["demographics"]]
    assert demo["age"].n_observed == len(ages) and demo.labels == []  # fitted on that cohort only, no label
    assert data.max_columns == 3
    assert data.header_texts == header_vocabulary([demo, lab])
    assert "smoking status: yes" in data.header_texts and "age (years)" in data.header_texts
    again = prepare_cross_table(records=records, schema=schema, cohorts=COHORTS, seed=3)
    assert [r["cohort"] for r in again.train] == [r["cohort"] for r in data.train]  # seeded


def test_cells_and_transform(fitted):
    schema, records = fitted
    data = prepare_cross_table(records=records, schema=schema, cohorts=COHORTS, seed=0)
    encode = EncodeCrossTabled("table", schemas=data.schemas, header_texts=data.header_texts)
    lab_record = next(r for r in data.train if r["cohort"] == "lab" and r["table"]["smoker"] is not None
                      and r["table"]["biomarker"] is not None)
    out = encode(lab_record)
    assert "table" not in out and out["cell_values"].dtype == torch.float32
    texts = [data.header_texts[i] for i in out["cell_header_ids"].tolist()]
    assert texts == ["serum biomarker level (ng/mL)", f"smoking status: {lab_record['table']['smoker']}"]
    column = data.schemas["lab"]["biomarker"]
    expected = (lab_record["table"]["biomarker"] - column.center) / column.scale
    assert out["cell_values"].tolist() == pytest.approx([expected, 1.0], rel=1e-5)
    missing = encode(dict(lab_record, table={"biomarker": None, "smoker": "never-seen"}))
    assert missing["cell_observed"].tolist() == [0.0, 1.0] and missing["cell_values"][0] == 0
    assert data.header_texts[int(missing["cell_header_ids"][1])] == "smoking status: unknown"
    with pytest.raises(KeyError, match="cohort 'other'"):
        encode(dict(lab_record, cohort="other"))
    with pytest.raises(SchemaError, match="not in the header vocabulary"):
        EncodeCrossTabled("table", schemas=data.schemas, header_texts=data.header_texts[:3])(lab_record)


def test_collate_pads_per_batch(fitted):
    schema, records = fitted
    data = prepare_cross_table(records=records, schema=schema,
                               cohorts=[{"name": "a", "columns": ["age"]}, {"name": "b", "columns": ["biomarker",
                                                                                                    "sex", "site"]}])
    encode = EncodeCrossTabled("table", schemas=data.schemas, header_texts=data.header_texts)
    samples = [encode({k: v for k, v in r.items() if k != "image"}) for r in data.train[:6]]
    batch = collate_cross_table(samples)
    lengths = [len(s["cell_values"]) for s in samples]
    assert set(lengths) == {1, 3} and batch["cell_values"].shape == (6, 3)
    assert batch["cell_padding"].sum(1).tolist() == [3 - n for n in lengths]
    assert not batch["cell_observed"][batch["cell_padding"]].any()
    assert batch["subject_id"] == [r["subject_id"] for r in data.train[:6]]
    with pytest.raises(KeyError, match="EncodeCrossTabled"):
        collate_cross_table([{"image": torch.zeros(1)}])


def test_empty_or_duplicated_header_is_a_clear_error(fitted):
    schema, records = fitted
    twin = TableSchema([ColumnSchema(name="age", role="numerical", description="age", unit="years",
                                     missing_rate=0.0, center=0.0, scale=1.0),
                        ColumnSchema(name="Age", role="numerical", description="age", unit="years",
                                     missing_rate=0.0, center=0.0, scale=1.0)])
    with pytest.raises(SchemaError, match="'age' and 'Age' have the same header 'age \\(years\\)'"):
        cell_texts(twin)
    blank = TableSchema([ColumnSchema(name="x1", role="numerical", description="   ", missing_rate=0.0,
                                      center=0.0, scale=1.0)])
    with pytest.raises(SchemaError, match="column 'x1' has an empty header"):
        header_vocabulary(blank)
    with pytest.raises(SchemaError, match="'nope' matches no feature column"):
        prepare_cross_table(records=records, schema=schema, cohorts=[{"name": "a", "columns": ["nope"]}])
    with pytest.raises(ValueError, match="distinct non-empty 'name'"):
        prepare_cross_table(records=records, schema=schema, cohorts=[{"name": "a", "columns": ["age"]}] * 2)


def test_label_subset_is_stratified_and_seeded():
    rows = [{"label": "a", "i": i} for i in range(30)] + [{"label": "b", "i": i} for i in range(10)]
    subset = label_subset(rows, fraction=0.2, seed=1)
    assert [r["label"] for r in subset].count("a") == 6 and [r["label"] for r in subset].count("b") == 2
    assert subset == label_subset(rows, fraction=0.2, seed=1) and subset != label_subset(rows, fraction=0.2, seed=2)
    assert len(label_subset(rows, fraction=1.0)) == 40
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        label_subset(rows, fraction=0)
