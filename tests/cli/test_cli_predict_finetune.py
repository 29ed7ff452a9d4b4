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
"""``predict`` on new subjects and ``finetune`` onto a cohort with other table columns."""

from __future__ import annotations

import pandas as pd
from tests.cli.cli_helpers import TINY, renamed_table

from monai_tabular.cli.main import main


def test_predict_without_labels_and_with_an_unseen_category(trained_project, cli_cohort, tmp_path, capsys):
    frame = pd.read_csv(trained_project["csv"], dtype=str, keep_default_na=False).drop(columns=["diagnosis"])
    frame.loc[frame.index[:3], "site"] = "a site never seen in training"
    csv = tmp_path / "new_patients.csv"
    frame.to_csv(csv, index=False)
    output = tmp_path / "predictions.csv"
    args = ["predict", "--run-dir", str(trained_project["run_dir"]), "--csv", str(csv), "--output", str(output),
            "--image-root", str(cli_cohort.root)]
    assert main(args) == 0
    predictions = pd.read_csv(output)
    assert len(predictions) == 40 and "label" not in predictions.columns
    assert {"prob_case", "prob_control", "pred"} <= set(predictions.columns)
    assert set(predictions["subject_id"]) == set(frame["patient"])
    assert f"wrote 40 predictions to {output}" in capsys.readouterr().out

    before = output.read_bytes()
    assert main(args) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err and output.read_bytes() == before
    assert main([*args, "--overwrite"]) == 0


def test_predict_on_a_table_lacking_a_column(trained_project, cli_cohort, tmp_path, capsys):
    frame = pd.read_csv(trained_project["csv"], dtype=str, keep_default_na=False).drop(columns=["age_years"])
    csv = tmp_path / "no_age.csv"
    frame.to_csv(csv, index=False)
    assert main(["predict", "--run-dir", str(trained_project["run_dir"]), "--csv", str(csv), "--output",
                 str(tmp_path / "p.csv"), "--image-root", str(cli_cohort.root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "age_years" in err and "Traceback" not in err


def test_finetune_onto_a_cohort_with_a_dropped_column(trained_project, cli_cohort, tmp_path, capsys):
    csv = renamed_table(cli_cohort, tmp_path / "data" / "other_site.csv", absolute_images=True, drop=("biomarker",))
    project = tmp_path / "project"
    assert main(["init", "--csv", str(csv), "--label", "diagnosis", "--subject-id", "patient",
                 "--output", str(project)]) == 0
    capsys.readouterr()
    assert main(["finetune", "--from", str(trained_project["run_dir"]), "--config", str(project / "config.json"),
                 *TINY]) == 0
    out = capsys.readouterr().out
    assert (project / "runs" / "fold0" / "model.pt").is_file()
    report = out[out.index("pretrained weights from"):]
    assert "loaded" in report and "new (trained from scratch)" in report
    assert "table_encoder" in report  # one numerical column fewer: the table input layer starts fresh


def test_finetune_refuses_to_write_into_its_source(trained_project, capsys):
    assert main(["finetune", "--from", str(trained_project["run_dir"]), "--config",
                 str(trained_project["project"] / "config.json"), *TINY]) == 2
    assert "choose another output folder" in capsys.readouterr().err
