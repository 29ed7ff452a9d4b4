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
"""The ``charms`` bundle end to end on the tiny synthetic cohort: alignment artefacts, an exported plain image
classifier, table-free inference, and the knowledge-distillation switch."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import torch

from monai_tabular.handlers import load_checkpoint
from monai_tabular.networks import create_classifier
from tests.bundles.bundle_helpers import REPO, error_messages, read_json, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")

BUNDLE = REPO / "bundles" / "charms"


def _overrides(root, *, epochs=3, **extra):
    charms = {"image_encoder": "resnet10", "n_clusters": 8, "align_every": 2, "align_samples": 16, **extra}
    return tiny(root, spatial_dims=2, epochs=epochs, **charms)


@pytest.fixture(scope="module")
def charms_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("charms_bundle")
    overrides = _overrides(root)
    run(["train.json"], overrides, bundle=BUNDLE)
    run(["train.json", "evaluate.json"], {**overrides, "eval_mode": "both"}, bundle=BUNDLE)
    return {"root": root, "run_dir": root / "runs" / "fold0", "overrides": overrides}


def test_alignment_artefacts_per_realignment(charms_run):
    folder = charms_run["run_dir"] / "alignment"
    assert sorted(p.name for p in folder.iterdir()) == ["alignment_epoch001.json", "alignment_epoch001.png",
                                                        "alignment_epoch003.json", "alignment_epoch003.png"]
    content = read_json(folder / "alignment_epoch003.json")
    schema = read_json(charms_run["run_dir"] / "schema.json")
    features = [c["name"] for c in schema["columns"] if c["role"] in ("numerical", "categorical")]
    assert sorted(content["attributes"]) == sorted(features)
    assert content["n_samples"] == 16  # the fixed training subset
    split = read_json(charms_run["run_dir"] / "split.json")
    assert len(split["train"]) > 16


def test_exported_model_is_the_plain_image_classifier(charms_run):
    run_dir = charms_run["run_dir"]
    network_args = read_json(run_dir / "network.json")
    assert network_args["model"] == "image"
    net = create_classifier(**network_args)
    load_checkpoint(run_dir / "model.pt", {"network": net})  # strict: no table model, no auxiliary heads
    assert type(net).__name__ == "ImageClassifier"
    metrics = read_json(run_dir / "metrics_both.json")
    assert metrics["model"] == "charms" and 0.0 <= metrics["metrics"]["auc"] <= 1.0
    frame = pd.read_csv(run_dir / "predictions_both.csv")
    assert len(frame) == len(read_json(run_dir / "split.json")["test"])


def test_training_logged_every_loss_term(charms_run):
    last = torch.load(charms_run["run_dir"] / "last.pt", map_location="cpu", weights_only=True)
    assert last["trainer"]["iteration"] == 3 * last["trainer"]["epoch_length"]
    state = last["network"]
    assert "alignment" in state and "numerical_weight" in state and any(k.startswith("table_model.") for k in state)
    assert state["alignment"].abs().sum() > 0 and not torch.all(state["alignment"] == 1)


def test_inference_reads_images_only(charms_run, tmp_path):
    run_dir = charms_run["run_dir"]
    cohort = run_dir / "synthetic_cohort"
    frame = pd.read_csv(cohort / "cohort.csv", dtype=str, keep_default_na=False)
    images_only = frame[["subject_id", "image"]].head(5)
    csv = tmp_path / "images_only.csv"
    images_only.to_csv(csv, index=False)
    output = tmp_path / "predictions.csv"
    run(["inference.json"], {"bundle_root": str(charms_run["root"]), "csv": str(csv), "dataset_dir": str(cohort),
                             "output_csv": str(output)}, bundle=BUNDLE)
    predictions = pd.read_csv(output, dtype={"subject_id": str})
    assert list(predictions["subject_id"]) == list(images_only["subject_id"])
    probs = predictions[[c for c in predictions.columns if c.startswith("prob_")]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert set(predictions["mode"]) == {"image_only"}


def test_knowledge_distillation_switch(tmp_path):
    overrides = _overrides(tmp_path, method="kd", epochs=1)
    run(["train.json"], overrides, bundle=BUNDLE)
    run_dir = tmp_path / "runs" / "fold0"
    assert not (run_dir / "alignment").exists()
    state = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)["network"]
    assert "numerical_weight" not in state
    load_checkpoint(run_dir / "model.pt", {"network": create_classifier(**read_json(run_dir / "network.json"))})


def test_unknown_method_and_too_many_clusters_are_clear_errors(tmp_path):
    with pytest.raises(Exception) as info:
        run(["train.json"], _overrides(tmp_path / "a", method="distillation", epochs=1), bundle=BUNDLE)
    assert any("method must be one of" in m for m in error_messages(info.value))
    with pytest.raises(Exception) as info:
        run(["train.json"], _overrides(tmp_path / "b", n_clusters=1000, epochs=1), bundle=BUNDLE)
    assert any("n_clusters C'=1000 is larger than the C=64 channels" in m for m in error_messages(info.value))


def test_a_resumed_run_ends_where_the_uninterrupted_one_does(charms_run, tmp_path):
    """The alignment lives in the network's buffers (saved in last.pt) and each re-alignment is seeded by its epoch,
    so stopping after epoch 2 and resuming gives the uninterrupted run's network."""
    overrides = _overrides(tmp_path)
    run(["train.json"], {**overrides, "stop_after_epoch": 2}, bundle=BUNDLE)
    run(["train.json"], overrides, bundle=BUNDLE)
    resumed = torch.load(tmp_path / "runs" / "fold0" / "last.pt", map_location="cpu", weights_only=True)["network"]
    straight = torch.load(charms_run["run_dir"] / "last.pt", map_location="cpu", weights_only=True)["network"]
    assert sorted(resumed) == sorted(straight)
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=1e-4, atol=1e-5, msg=key)
