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
"""``validate``: a clean cohort exits 0; every problem of a broken one is named, exit 1."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from monai_tabular.cli.main import main


@pytest.fixture
def spec_file(cli_cohort, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(cli_cohort.spec))
    return path


def test_clean_cohort(cli_cohort, spec_file, capsys):
    assert main(["validate", "--csv", str(cli_cohort.csv_path), "--spec", str(spec_file), "--images", "full"]) == 0
    out = capsys.readouterr().out
    assert "no problems found" in out and "40 subjects" in out
    assert "biomarker (10% missing)" in out and "label 'label'" in out


def test_broken_cohort_names_every_problem(cli_cohort, spec_file, tmp_path, capsys):
    frame = pd.read_csv(cli_cohort.csv_path, dtype=str, keep_default_na=False)
    frame.loc[3, "label"] = ""                              # CSV line 5
    frame.loc[5, "subject_id"] = frame.loc[4, "subject_id"]  # lines 6 and 7
    frame.loc[7, "age"] = "sixty"                           # line 9
    frame.loc[9, "image"] = "images/missing.png"
    broken = tmp_path / "broken.csv"
    frame.to_csv(broken, index=False)
    assert main(["validate", "--csv", str(broken), "--spec", str(spec_file), "--image-root",
                 str(cli_cohort.root)]) == 1
    out = capsys.readouterr().out
    assert "4 problem(s)" in out
    lines = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(lines) == 4
    assert any("label is empty" in line and "column 'label'" in line and "line 5" in line for line in lines)
    assert any("duplicate subject id" in line and "sub-0004" in line and "line 6, line 7" in line for line in lines)
    assert any("'sixty'" in line and "column 'age'" in line and "line 9" in line for line in lines)
    assert any("missing.png" in line and "sub-0009" in line for line in lines)
    assert all("broken.csv" in line for line in lines[:3])


def test_schema_from_another_table(cli_cohort, spec_file, trained_project, capsys):
    schema = trained_project["run_dir"] / "schema.json"  # made from the renamed table
    assert main(["validate", "--csv", str(cli_cohort.csv_path), "--spec", str(spec_file),
                 "--schema", str(schema)]) == 1
    out = capsys.readouterr().out
    assert "age_years" in out and "patient" in out and "1 problem(s)" in out


def test_spec_naming_a_missing_column(cli_cohort, tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"label": "diagnosis"}))
    assert main(["validate", "--csv", str(cli_cohort.csv_path), "--spec", str(spec)]) == 1
    assert "'diagnosis'" in capsys.readouterr().out
