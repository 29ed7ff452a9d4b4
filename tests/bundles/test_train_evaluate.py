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
"""``train.json`` (2D and 3D) and ``train.json`` + ``evaluate.json`` in every evaluation mode, on tiny data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monai_tabular.engines import load_run
from monai_tabular.handlers import load_checkpoint
from monai_tabular.networks import create_classifier
from tests.bundles.bundle_helpers import RUN_FILES, read_json, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


def _check_run_folder(run_dir, *, spatial_dims: int, epochs: int) -> None:
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), f"{name} missing in {run_dir}"
    network_args = read_json(run_dir / "network.json")
    assert network_args["spatial_dims"] == spatial_dims and network_args["model"] == "fusion"
    assert network_args["out_channels"] == 2 and network_args["n_numerical"] == 2
    assert read_json(run_dir / "preprocessing.json")["image_size"] == [16] * spatial_dims
    summary = read_json(run_dir / "summary.json")
    assert summary["key_metric"] == "val_auc"
    assert 1 <= summary["best_metric_epoch"] <= epochs
    assert 0.0 <= summary["last_metrics"]["auc"] <= 1.0
    split = read_json(run_dir / "split.json")
    ids = [{r["subject_id"] for r in split[part]} for part in ("train", "val", "test")]
    assert all(ids) and not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    trained = load_run(run_dir)
    assert trained.schema.source["n_rows_fit"] == len(split["train"])
    network = create_classifier(**trained.network_args)
    load_checkpoint(run_dir / "model.pt", {"network": network})  # the best model fits the saved network
    last = load_checkpoint(run_dir / "last.pt", {"network": create_classifier(**trained.network_args)})
    assert last["trainer"]["iteration"] == epochs * (len(split["train"]) // 8)  # drop_last batches of 8


def test_train_2d(trained2d):
    _check_run_folder(trained2d["run_dir"], spatial_dims=2, epochs=2)


def test_train_3d(tmp_path):
    run(["train.json"], tiny(tmp_path, spatial_dims=3, epochs=1))
    _check_run_folder(tmp_path / "runs" / "fold0", spatial_dims=3, epochs=1)


@pytest.fixture(scope="module")
def evaluated(trained2d):
    run_dir = trained2d["run_dir"]
    before = {name: (run_dir / name).read_bytes() for name in ("model.pt", "schema.json", "network.json")}
    for mode in ("both", "image_only", "table_only"):
        run(["train.json", "evaluate.json"], {**trained2d["overrides"], "eval_mode": mode})
    after = {name: (run_dir / name).read_bytes() for name in before}
    return run_dir, before == after


def test_evaluation_does_not_touch_the_trained_run(evaluated):
    _, unchanged = evaluated
    assert unchanged


@pytest.mark.parametrize("mode", ["both", "image_only", "table_only"])
def test_evaluate_each_mode(evaluated, mode):
    run_dir, _ = evaluated
    split = read_json(run_dir / "split.json")
    metrics = read_json(run_dir / f"metrics_{mode}.json")
    assert metrics["mode"] == mode and metrics["part"] == "test" and metrics["model"] == "fusion"
    assert 0.0 <= metrics["metrics"]["auc"] <= 1.0
    frame = pd.read_csv(run_dir / f"predictions_{mode}.csv", dtype={"subject_id": str})
    assert list(frame.columns) == ["subject_id", "mode", "label", "prob_control", "prob_case", "pred"]
    assert list(frame["subject_id"]) == [r["subject_id"] for r in split["test"]]
    assert list(frame["label"]) == [r["label"] for r in split["test"]]
    assert (frame["mode"] == mode).all()
    np.testing.assert_allclose(frame[["prob_control", "prob_case"]].sum(axis=1), 1.0, atol=1e-5)
    accuracy = float((frame["pred"] == frame["label"]).mean())
    assert metrics["metrics"]["accuracy"] == pytest.approx(accuracy)


def test_modes_give_different_predictions(evaluated):
    run_dir, _ = evaluated
    probs = {mode: pd.read_csv(run_dir / f"predictions_{mode}.csv")["prob_case"].to_numpy()
             for mode in ("both", "image_only", "table_only")}
    assert not np.allclose(probs["both"], probs["image_only"])
    assert not np.allclose(probs["both"], probs["table_only"])
    assert not np.allclose(probs["image_only"], probs["table_only"])
