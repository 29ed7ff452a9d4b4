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
"""``bundles/cfcml``: train / evaluate / inference on the tiny 3D and 2D synthetic cohorts, ablation switches,
and a template naming an unknown attribute refused at start-up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from monai_tabular.engines import load_run
from monai_tabular.networks.cfcml import CFCMLNet
from tests.bundles.bundle_helpers import REPO, error_messages, read_json, run, tiny
from tests.networks.test_text import make_tiny_bert

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")

BUNDLE = REPO / "bundles" / "cfcml"
SMALL = {"d_model": 16, "n_tokens": 4, "fusion_tokens": 4, "n_heads": 2, "text_cache_dir": False}
SWIN_TINY = {"embed_dim": 8, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1], "patch_size": 2}


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return str(make_tiny_bert(tmp_path_factory.mktemp("cfcml_bert")))


def overrides_3d(root, bert, **extra):
    return tiny(root, spatial_dims=3, epochs=2, text_model=bert, image_encoder="nnmamba",
                image_encoder_args={"base_channels": 4, "d_state": 4}, **SMALL, **extra)


def overrides_2d(root, bert, **extra):
    return tiny(root, spatial_dims=2, epochs=1, text_model=bert, image_encoder="swin_t",
                image_encoder_args=SWIN_TINY, **SMALL, **extra)


def test_3d_train_evaluate_inference(tmp_path, bert):
    overrides = overrides_3d(tmp_path, bert)
    run(["train.json"], overrides, bundle=BUNDLE)
    run_dir = tmp_path / "runs" / "fold0"
    network_args = read_json(run_dir / "network.json")
    assert network_args["image_encoder"] == "nnmamba" and network_args["variant"] == "full"
    trained = load_run(run_dir)
    assert network_args["n_attributes"] == len(trained.schema.features) == 6  # one sentence per attribute
    net = CFCMLNet(**trained.network_args)
    state = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    assert int(state["prototype_counts"].sum()) > 0  # prototypes were learned and saved
    for mode in ("both", "image_only", "table_only"):
        run(["train.json", "evaluate.json"], {**overrides, "eval_mode": mode}, bundle=BUNDLE)
        frame = pd.read_csv(run_dir / f"predictions_{mode}.csv")
        assert np.isfinite(frame[["prob_control", "prob_case"]].to_numpy()).all()
        assert read_json(run_dir / f"metrics_{mode}.json")["mode"] == mode
    cohort = run_dir / "synthetic_cohort"
    frame = pd.read_csv(cohort / "cohort.csv", dtype=str, keep_default_na=False).drop(columns=["label"]).head(4)
    frame.loc[0, "site"] = "a_site_never_seen"
    frame.loc[1, ["age", "biomarker", "sex", "site", "smoker", "notes"]] = ""  # an empty table row
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    output = tmp_path / "inference.csv"
    run(["inference.json"], {"bundle_root": str(tmp_path), "csv": str(csv), "dataset_dir": str(cohort),
                             "output_csv": str(output)}, bundle=BUNDLE)
    predicted = pd.read_csv(output, dtype={"subject_id": str})
    assert list(predicted["subject_id"]) == list(frame["subject_id"])
    np.testing.assert_allclose(predicted[["prob_control", "prob_case"]].sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("ablation", ["none", "no_ccrm", "no_mgcie", "concat", "image_only", "table_only"])
def test_2d_swin_ablations_train_and_evaluate(tmp_path, bert, ablation):
    overrides = overrides_2d(tmp_path, bert, ablation=ablation, balanced_sampling=ablation == "none",
                             modality_dropout=0.3 if ablation in ("none", "concat") else 0.0)
    run(["train.json"], overrides, bundle=BUNDLE)
    run(["train.json", "evaluate.json"], {**overrides, "eval_mode": "both"}, bundle=BUNDLE)
    run_dir = tmp_path / "runs" / "fold0"
    expected = "full" if ablation in ("none", "no_ccrm") else ablation
    assert read_json(run_dir / "network.json")["variant"] == expected
    assert (run_dir / "predictions_both.csv").is_file()
    assert read_json(run_dir / "metrics_both.json")["metrics"]["auc"] >= 0.0


def test_template_naming_an_unknown_attribute_fails_at_start_up(tmp_path, bert):
    overrides = overrides_3d(tmp_path, bert, attribute_templates={"heart_rate": "The heart rate is {value}."})
    with pytest.raises(Exception) as info:
        run(["train.json"], overrides, bundle=BUNDLE)
    assert any("heart_rate" in m and "unknown attribute" in m for m in error_messages(info.value))
    assert not (tmp_path / "runs" / "fold0" / "last.pt").exists()  # nothing was trained
