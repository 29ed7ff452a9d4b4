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
"""``inference.json`` on a table without labels, with an unseen category and a missing cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.bundles.bundle_helpers import error_messages, read_json, run

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


@pytest.fixture
def new_patients(trained2d, tmp_path):
    """Six subjects of the cohort without the label column; an unseen site and a missing age."""
    cohort = trained2d["run_dir"] / "synthetic_cohort"
    frame = pd.read_csv(cohort / "cohort.csv", dtype=str, keep_default_na=False).drop(columns=["label"]).head(6)
    frame.loc[0, "site"] = "never_seen_site"
    frame.loc[1, "age"] = ""
    path = tmp_path / "new_patients.csv"
    frame.to_csv(path, index=False)
    return path, cohort, list(frame["subject_id"])


def _inference(trained2d, csv, cohort, output, **extra):
    run(["inference.json"], {"bundle_root": str(trained2d["root"]), "csv": str(csv), "dataset_dir": str(cohort),
                             "output_csv": str(output), **extra})


def test_inference_writes_predictions(trained2d, new_patients, tmp_path):
    csv, cohort, subjects = new_patients
    output = tmp_path / "out" / "predictions.csv"
    _inference(trained2d, csv, cohort, output)
    frame = pd.read_csv(output, dtype={"subject_id": str})
    assert list(frame.columns) == ["subject_id", "mode", "prob_control", "prob_case", "pred"]  # no label column
    assert list(frame["subject_id"]) == subjects
    probs = frame[["prob_control", "prob_case"]].to_numpy()
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert set(frame["pred"]) <= {"control", "case"}


def test_inference_matches_evaluation(trained2d, tmp_path):
    """On the fold's test subjects (labels dropped), inference gives the probabilities evaluation gives."""
    run_dir = trained2d["run_dir"]
    cohort = run_dir / "synthetic_cohort"
    test_ids = [r["subject_id"] for r in read_json(run_dir / "split.json")["test"]]
    frame = pd.read_csv(cohort / "cohort.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["subject_id"].isin(test_ids)].drop(columns=["label"])
    csv = tmp_path / "test_subjects.csv"
    frame.to_csv(csv, index=False)
    output = tmp_path / "predictions.csv"
    _inference(trained2d, csv, cohort, output)
    run(["train.json", "evaluate.json"], {**trained2d["overrides"], "eval_mode": "both"})
    inferred = pd.read_csv(output, dtype={"subject_id": str}).set_index("subject_id")
    evaluated = pd.read_csv(run_dir / "predictions_both.csv", dtype={"subject_id": str}).set_index("subject_id")
    assert sorted(inferred.index) == sorted(evaluated.index) == sorted(test_ids)
    np.testing.assert_allclose(inferred.loc[evaluated.index, "prob_case"], evaluated["prob_case"], rtol=1e-5)


def test_inference_refuses_to_overwrite(trained2d, new_patients, tmp_path):
    csv, cohort, _ = new_patients
    output = tmp_path / "predictions.csv"
    output.write_text("earlier results\n")
    with pytest.raises(Exception) as info:
        _inference(trained2d, csv, cohort, output)
    assert any("FileExistsError" in m and "overwrite" in m for m in error_messages(info.value))
    assert output.read_text() == "earlier results\n"
    _inference(trained2d, csv, cohort, output, overwrite=True)
    assert len(pd.read_csv(output)) == 6
