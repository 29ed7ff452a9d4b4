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
"""Survival and regression targets through the baseline bundle (``monai.bundle run``) on the synthetic cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.bundles.bundle_helpers import read_json, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


def _survival(root, **extra):
    overrides = tiny(root, epochs=2, **extra)
    overrides["synthetic"] = dict(overrides["synthetic"], task="survival", n_subjects=60)
    return overrides


@pytest.fixture(scope="module")
def hazard_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("survival_lh")
    overrides = _survival(root, survival_loss="logistic_hazard", fusion="gated_attention")
    run(["train.json"], overrides)
    run(["train.json", "evaluate.json"], overrides)
    return root, overrides


def test_cox_survival_trains_evaluates_and_plots(tmp_path):
    overrides = _survival(tmp_path, fusion="daft")
    run(["train.json"], overrides)
    run(["train.json", "evaluate.json"], overrides)
    run_dir = tmp_path / "runs" / "fold0"
    assert read_json(run_dir / "network.json")["out_channels"] == 1
    assert read_json(run_dir / "summary.json")["key_metric"] == "val_cindex"
    metrics = read_json(run_dir / "metrics_both.json")["metrics"]
    assert 0.0 <= metrics["cindex"] <= 1.0 and 0.0 <= metrics["cindex_uno"] <= 1.0
    predictions = pd.read_csv(run_dir / "predictions_both.csv", dtype={"subject_id": str})
    assert list(predictions.columns) == ["subject_id", "mode", "time", "event", "risk"]
    test_ids = [r["subject_id"] for r in read_json(run_dir / "split.json")["test"]]
    assert sorted(predictions["subject_id"]) == sorted(test_ids)
    cohort = pd.read_csv(run_dir / "synthetic_cohort" / "cohort.csv", dtype={"subject_id": str}).set_index(
        "subject_id")
    np.testing.assert_allclose(predictions["time"], cohort.loc[predictions["subject_id"], "time"], rtol=1e-5)
    assert (run_dir / "predictions_both_km.png").stat().st_size > 1000


def test_discrete_time_survival_writes_curves_in_evaluation_and_inference(hazard_run, tmp_path):
    root, overrides = hazard_run
    run_dir = root / "runs" / "fold0"
    cuts = read_json(run_dir / "schema.json")["label_stats"]["time"]["cuts"]
    assert read_json(run_dir / "network.json")["out_channels"] == len(cuts) - 1
    metrics = read_json(run_dir / "metrics_both.json")["metrics"]
    assert np.isfinite(metrics["cindex"])
    cohort = run_dir / "synthetic_cohort"
    frame = pd.read_csv(cohort / "cohort.csv", dtype=str, keep_default_na=False).drop(
        columns=["time", "event"]).head(5)
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    output = tmp_path / "inference.csv"
    run(["inference.json"], {"bundle_root": str(root), "csv": str(csv), "dataset_dir": str(cohort),
                             "output_csv": str(output)})
    predicted = pd.read_csv(output, dtype={"subject_id": str})
    curves = predicted[[c for c in predicted.columns if c.startswith("surv_")]].to_numpy()
    assert list(predicted["subject_id"]) == list(frame["subject_id"]) and "time" not in predicted.columns
    assert curves.shape == (5, len(cuts) - 1)
    assert ((curves > 0) & (curves <= 1)).all() and (np.diff(curves, axis=1) <= 1e-7).all()
    np.testing.assert_allclose(predicted["risk"], -curves.sum(1), rtol=1e-5)


def test_regression_target_is_standardised_and_written_back_in_years(tmp_path):
    from monai_tabular.data.synthetic import make_synthetic_cohort, synthetic_cohort_spec

    cohort = make_synthetic_cohort(tmp_path / "cohort", n_subjects=40, spatial_dims=2, image_size=[16, 16])
    spec = synthetic_cohort_spec()
    spec.update(label="age", task="regression", numerical=["biomarker"], ignore=["label"])
    del spec["classes"]
    import json

    (tmp_path / "spec.json").write_text(json.dumps(spec))
    overrides = tiny(tmp_path, epochs=1, csv=str(cohort.csv_path), spec=str(tmp_path / "spec.json"),
                     dataset_dir=str(cohort.root))
    run(["train.json"], overrides)
    run(["train.json", "evaluate.json"], overrides)
    run_dir = tmp_path / "runs" / "fold0"
    stats = read_json(run_dir / "schema.json")["label_stats"]["age"]
    train_ages = [float(r["label"]) for r in read_json(run_dir / "split.json")["train"]]
    assert stats["mean"] == pytest.approx(np.mean(train_ages)) and stats["std"] == pytest.approx(np.std(train_ages))
    predictions = pd.read_csv(run_dir / "predictions_both.csv", dtype={"subject_id": str})
    ages = pd.read_csv(cohort.csv_path, dtype={"subject_id": str}).set_index("subject_id")["age"]
    np.testing.assert_allclose(predictions["label"], ages.loc[predictions["subject_id"]], rtol=1e-5)
    assert abs(predictions["pred"].mean() - stats["mean"]) < 3 * stats["std"]  # in years, not z-scores
    assert read_json(run_dir / "metrics_both.json")["metrics"]["mae"] > 0
