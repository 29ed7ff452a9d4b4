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
"""``bundles/gaal``: train, evaluate in the three modes, infer, the no-surgery ablation and table views."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monai_tabular.engines import load_run
from monai_tabular.handlers import load_checkpoint
from monai_tabular.networks.gaal import GAALNetwork
from tests.bundles.bundle_helpers import REPO, RUN_FILES, read_json, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")

BUNDLE = REPO / "bundles" / "gaal"
MODES = ("both", "image_only", "table_only")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two epochs on the tiny 2D cohort, then evaluation in every mode."""
    root = tmp_path_factory.mktemp("gaal_bundle")
    overrides = tiny(root, spatial_dims=2, epochs=2)
    run(["train.json"], overrides, bundle=BUNDLE)
    for mode in MODES:
        run(["train.json", "evaluate.json"], {**overrides, "eval_mode": mode}, bundle=BUNDLE)
    return {"root": root, "run_dir": root / "runs" / "fold0", "overrides": overrides}


def test_training_writes_the_run_folder_and_the_gradient_log(trained):
    run_dir = trained["run_dir"]
    for name in RUN_FILES + ("gaal_gradients.csv", "gaal_gradients.png"):
        assert (run_dir / name).is_file(), f"{name} missing in {run_dir}"
    trained_run = load_run(run_dir)
    network = GAALNetwork(**trained_run.network_args)
    load_checkpoint(run_dir / "model.pt", {"network": network})
    history = pd.read_csv(run_dir / "gaal_gradients.csv")
    n_train = len(read_json(run_dir / "split.json")["train"])
    assert len(history) == 2 * 2 * (n_train // 8)  # epochs x modalities x batches
    assert history["cos_hard"].iloc[1:].between(-1, 1).all()


def test_evaluation_writes_each_mode(trained):
    run_dir = trained["run_dir"]
    frames = {}
    for mode in MODES:
        metrics = read_json(run_dir / f"metrics_{mode}.json")
        assert metrics["mode"] == mode and metrics["model"] == "gaal"
        frame = pd.read_csv(run_dir / f"predictions_{mode}.csv", dtype={"subject_id": str})
        probs = frame[["prob_control", "prob_case"]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        frames[mode] = probs
    logit = {m: np.log(p[:, 1] / p[:, 0]) for m, p in frames.items()}  # binary: logit difference is linear
    np.testing.assert_allclose(logit["both"], (logit["image_only"] + logit["table_only"]) / 2, atol=1e-4)


def test_inference_without_labels_matches_evaluation(trained, tmp_path):
    run_dir = trained["run_dir"]
    cohort = run_dir / "synthetic_cohort"
    test_ids = [r["subject_id"] for r in read_json(run_dir / "split.json")["test"]]
    frame = pd.read_csv(cohort / "cohort.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["subject_id"].isin(test_ids)].drop(columns=["label"])
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    output = tmp_path / "inference.csv"
    run(["inference.json"], {"bundle_root": str(trained["root"]), "csv": str(csv), "dataset_dir": str(cohort),
                             "output_csv": str(output)}, bundle=BUNDLE)
    inferred = pd.read_csv(output, dtype={"subject_id": str}).set_index("subject_id")
    evaluated = pd.read_csv(run_dir / "predictions_both.csv", dtype={"subject_id": str}).set_index("subject_id")
    np.testing.assert_allclose(inferred.loc[evaluated.index, "prob_case"], evaluated["prob_case"], atol=1e-5)


def test_no_surgery_ablation_with_table_views_in_3d(tmp_path):
    """One epoch in 3D with one table view per column (image + 5 views), surgery switched off."""
    views = ["age", "biomarker", "sex", "site", "smoker"]
    overrides = tiny(tmp_path, spatial_dims=3, epochs=1, surgery=False, table_views=views)
    run(["train.json"], overrides, bundle=BUNDLE)
    run_dir = tmp_path / "runs" / "fold0"
    history = pd.read_csv(run_dir / "gaal_gradients.csv")
    assert history["modality"].unique().tolist() == ["image"] + views
    assert (history["surgery_v"].fillna(0) == 0).all()
    assert history["cos_hard"].notna().sum() > 0  # the cosine is still logged for the ablation
    assert list(read_json(run_dir / "network.json")["table_views"]) == views
