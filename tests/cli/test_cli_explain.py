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
"""``monai-tabular explain``: the bundle's train.json + explain.json on a trained project."""

from __future__ import annotations

import json

import pytest
from tests.cli.cli_helpers import TINY

from monai_tabular.cli.main import build_parser, main

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


def test_explain_writes_a_report_for_chosen_subjects(trained_project, capsys):
    run_dir = trained_project["run_dir"]
    split = json.loads((run_dir / "split.json").read_text())
    subject = split["test"][-1]["subject_id"]
    args = ["explain", "--config", str(trained_project["project"] / "config.json"), *TINY, "--subjects", subject,
            "--repeats", "1", "--set", "explain_cohort_maps=2"]
    assert main(args) == 0
    report = run_dir / "explain_both" / "report.md"
    assert f"explanation report {report}" in capsys.readouterr().out
    text = report.read_text()
    assert f"## Subject {subject}" in text and "Permutation importance" in text and "(test part)" in text
    result = json.loads((report.parent / "explanations.json").read_text())
    assert list(result["subjects"]) == [subject]
    assert result["subjects"][subject]["gradcam_shape"] == [16, 16]
    assert (report.parent / f"{subject}_image.png").is_file() and (report.parent / f"{subject}_table.png").is_file()
    # the renamed table's attributes name the rows (the project's own column names, not the cohort's)
    assert "age_years" in result["cohort"]["permutation_importance"]["importances"]


def test_explain_table_only_mode(trained_project):
    args = ["explain", "--config", str(trained_project["project"] / "config.json"), *TINY, "--mode", "table_only",
            "--n-subjects", "1", "--repeats", "1"]
    assert main(args) == 0
    folder = trained_project["run_dir"] / "explain_table_only"
    result = json.loads((folder / "explanations.json").read_text())
    assert result["mode"] == "table_only" and "image" not in result["cohort"]["permutation_importance"]["importances"]
    assert not list(folder.glob("*_image.png"))


def test_explain_unknown_subject_is_one_error_line(trained_project, capsys):
    args = ["explain", "--config", str(trained_project["project"] / "config.json"), *TINY,
            "--subjects", "nobody-42"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nobody-42" in err


def test_explain_is_listed():
    assert build_parser().parse_args(["explain", "--mode", "image_only"]).command == "explain"
