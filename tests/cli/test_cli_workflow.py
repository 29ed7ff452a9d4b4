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
"""End to end on a table the package has never seen: ``init`` -> ``validate`` -> ``train`` -> ``evaluate``."""

from __future__ import annotations

import json

import pandas as pd
from tests.cli.cli_helpers import TINY, renamed_table

from monai_tabular.cli.main import main


def test_init_train_evaluate_on_an_unseen_table(cli_cohort, tmp_path, capsys):
    # renamed and reordered columns, shuffled rows, absolute image paths, written away from the images
    csv = renamed_table(cli_cohort, tmp_path / "elsewhere" / "clinic.csv", absolute_images=True, seed=3)
    project = tmp_path / "project"
    assert main(["init", "--csv", str(csv), "--label", "diagnosis", "--subject-id", "patient",
                 "--output", str(project)]) == 0
    out = capsys.readouterr().out
    assert "age_years" in out and "numerical" in out and "patient" in out  # the review print
    spec = json.loads((project / "spec.json").read_text())
    assert spec["infer"] is False and spec["label"] == "diagnosis" and spec["subject_id"] == "patient"
    assert "age_years" in spec["numerical"] and "sex" in spec["categorical"] and spec["image"] == ["image"]
    roles = [c for key in ("image", "numerical", "categorical", "text", "ignore") for c in spec[key]]
    assert sorted(roles + ["diagnosis", "patient"]) == sorted(pd.read_csv(csv, nrows=0).columns)
    datalist = json.loads((project / "datalist.json").read_text())
    assert len(datalist) == 40 and {"image", "label", "table", "subject_id"} <= set(datalist[0])
    config = json.loads((project / "config.json").read_text())
    assert config["spec"] == "spec.json" and config["csv"] == str(csv.resolve())

    assert main(["validate", "--csv", str(csv), "--spec", str(project / "spec.json")]) == 0
    assert "no problems found" in capsys.readouterr().out

    common = ["--config", str(project / "config.json"), *TINY]
    assert main(["train", *common]) == 0
    run_dir = project / "runs" / "fold0"
    assert (run_dir / "model.pt").is_file() and (run_dir / "schema.json").is_file()
    schema = json.loads((run_dir / "schema.json").read_text())
    assert {c["name"]: c["role"] for c in schema["columns"]}["age_years"] == "numerical"
    assert f"{run_dir}: best" in capsys.readouterr().out

    assert main(["evaluate", *common]) == 0
    metrics = json.loads((run_dir / "metrics_both.json").read_text())
    assert 0.0 <= metrics["metrics"]["auc"] <= 1.0
    predictions = pd.read_csv(run_dir / "predictions_both.csv")
    assert len(predictions) > 0 and set(predictions["pred"]) <= {"case", "control"}
    assert "auc" in capsys.readouterr().out


def test_evaluate_one_modality(trained_project, capsys):
    config = str(trained_project["project"] / "config.json")
    assert main(["evaluate", "--config", config, *TINY, "--mode", "table_only"]) == 0
    run_dir = trained_project["run_dir"]
    assert json.loads((run_dir / "metrics_table_only.json").read_text())["mode"] == "table_only"
    assert (run_dir / "predictions_table_only.csv").is_file()


def test_train_several_folds(trained_project, tmp_path, capsys):
    config = str(trained_project["project"] / "config.json")
    output = tmp_path / "runs"
    assert main(["train", "--config", config, *TINY, "--set", "model=table", "--set", f"output_dir={output}",
                 "--folds", "0,1"]) == 0
    assert (output / "fold0" / "model.pt").is_file() and (output / "fold1" / "model.pt").is_file()
    assert "done for 2 folds" in capsys.readouterr().out
