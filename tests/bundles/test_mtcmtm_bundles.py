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
"""The MT-CMTM bundles on the tiny synthetic cohort: pretraining (with and without images), fine-tuning and
linear probing from the pretrained table encoder, from scratch, regression, and image-free inference."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from monai_tabular.engines.baselines import sklearn_table_baseline
from monai_tabular.data import TableSchema
from tests.bundles.bundle_helpers import REPO, read_json, run, tiny

PRETRAIN, FINETUNE = REPO / "bundles" / "mtcmtm_pretrain", REPO / "bundles" / "mtcmtm_finetune"
TABLE = {"table_encoder_args": {"embedding_dim": 8, "channels": [8, 16], "reduction": 4}}


def network_state(path):
    """The network's state dict of a checkpoint, saved bare (best-metric saver) or under "network"."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("network", state)


SMALL = {**TABLE, "image_encoder": "resnet10", "projection_dim": 16, "projection_hidden_dim": 16}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mtcmtm")
    run(["train.json"], tiny(root / "image", epochs=2, lr_schedule="onecycle", **SMALL), bundle=PRETRAIN)
    run(["train.json"], tiny(root / "no_image", epochs=1, use_image=False, **SMALL), bundle=PRETRAIN)
    return root


def test_pretraining_writes_its_run(pretrained):
    run_dir = pretrained / "image" / "runs" / "fold0"
    summary = read_json(run_dir / "pretrain_summary.json")
    assert summary["epoch"] == 2 and set(summary["last_loss_terms"]) == {"contrastive", "mask"}
    state = network_state(run_dir / "model.pt")
    assert any(k.startswith("image_encoder.") for k in state) and any(k.startswith("table_encoder.") for k in state)
    split = read_json(run_dir / "split.json")
    assert split["train"] and split["val"]  # pretraining reads only the training part (checked below)


def test_no_image_ablation_has_no_image_encoder(pretrained):
    run_dir = pretrained / "no_image" / "runs" / "fold0"
    assert set(read_json(run_dir / "pretrain_summary.json")["last_loss_terms"]) == {"mask"}
    assert not any(k.startswith("image_") for k in network_state(run_dir / "model.pt"))


def test_linear_probe_keeps_the_pretrained_encoder_and_evaluates(pretrained, tmp_path):
    overrides = tiny(tmp_path, epochs=2, linear_probe=True, pretrained_dir=str(pretrained / "image" / "runs"),
                     **TABLE)
    run(["train.json"], overrides, bundle=FINETUNE)
    run(["train.json", "evaluate.json"], {**overrides, "eval_mode": "table_only"}, bundle=FINETUNE)
    run_dir = tmp_path / "runs" / "fold0"
    tuned, source = network_state(run_dir / "model.pt"), network_state(pretrained / "image/runs/fold0/model.pt")
    encoder = [k for k in tuned if k.startswith("table_encoder.")]
    assert encoder and all(tuned[k].equal(source[k]) for k in encoder)
    assert not any(k.startswith("image_") for k in tuned)
    predictions = pd.read_csv(run_dir / "predictions_table_only.csv")
    test_ids = {r["subject_id"] for r in read_json(run_dir / "split.json")["test"]}
    assert set(predictions["subject_id"]) == test_ids
    assert "auc" in read_json(run_dir / "metrics_table_only.json")["metrics"]


def test_fine_tuning_changes_the_encoder_and_inference_needs_no_image(pretrained, tmp_path):
    overrides = tiny(tmp_path, epochs=1, pretrained_dir=str(pretrained / "image" / "runs"), **TABLE)
    run(["train.json"], overrides, bundle=FINETUNE)
    run_dir = tmp_path / "runs" / "fold0"
    tuned, source = network_state(run_dir / "last.pt"), network_state(pretrained / "image/runs/fold0/model.pt")
    assert any(not tuned[k].equal(source[k]) for k in tuned if k.startswith("table_encoder.") and "weight" in k)
    test = read_json(run_dir / "split.json")["test"]
    records = [{"subject_id": r["subject_id"], "table": r["table"]} for r in test]  # no image key at all
    run(["inference.json"], {"bundle_root": str(tmp_path), "records": records, "output_csv": str(tmp_path / "a.csv")},
        bundle=FINETUNE)
    by_records = pd.read_csv(tmp_path / "a.csv")
    assert list(by_records["subject_id"]) == [r["subject_id"] for r in records]
    csv = tmp_path / "new.csv"
    pd.DataFrame([{"subject_id": r["subject_id"], **r["table"]} for r in test]).to_csv(csv, index=False)
    run(["inference.json"], {"bundle_root": str(tmp_path), "csv": str(csv), "output_csv": str(tmp_path / "b.csv")},
        bundle=FINETUNE)
    by_csv = pd.read_csv(tmp_path / "b.csv")
    prob = [c for c in by_csv.columns if c.startswith("prob_")]
    pd.testing.assert_frame_equal(by_csv[["subject_id"] + prob], by_records[["subject_id"] + prob])


def test_regression_from_scratch(tmp_path):
    from monai_tabular.data.synthetic import make_synthetic_cohort

    cohort = make_synthetic_cohort(tmp_path / "cohort", n_subjects=40, spatial_dims=2, image_size=[16, 16])
    spec = {"subject_id": "subject_id", "label": "age", "task": "regression", "image": ["image"],
            "numerical": ["biomarker"], "categorical": ["sex", "site", "smoker"], "ignore": ["notes", "label"]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    overrides = tiny(tmp_path, epochs=1, csv=str(cohort.csv_path), spec=str(tmp_path / "spec.json"), **TABLE)
    run(["train.json"], overrides, bundle=FINETUNE)
    run(["train.json", "evaluate.json"], {**overrides, "eval_mode": "table_only"}, bundle=FINETUNE)
    metrics = read_json(tmp_path / "runs" / "fold0" / "metrics_table_only.json")["metrics"]
    assert "mae" in metrics and read_json(tmp_path / "runs/fold0/preprocessing.json")["pretrained"] == ""


def test_sklearn_mlp_row(pretrained):
    run_dir = pretrained / "image" / "runs" / "fold0"
    split, schema = read_json(run_dir / "split.json"), TableSchema.load(run_dir / "schema.json")
    rows = sklearn_table_baseline(schema, split["train"] + split["val"], split["test"], method="mlp")
    prob = [c for c in rows.columns if c.startswith("prob_")]
    assert len(rows) == len(split["test"]) and rows[prob].sum(axis=1).round(6).eq(1).all()
    with pytest.raises(ValueError, match="unknown scikit-learn method"):
        sklearn_table_baseline(schema, split["train"], split["test"], method="svm")


def test_table_inference_refuses_rows_without_a_table(pretrained):
    from monai_tabular.engines.mtcmtm import prepare_table_inference

    run_dir = pretrained / "image" / "runs" / "fold0"
    with pytest.raises(ValueError, match="record 1 needs a 'table'"):
        prepare_table_inference(run_dir=run_dir, records=[{"table": {}}, {"subject_id": "x", "image": "a.png"}])
    with pytest.raises(ValueError, match="csv= .* or records="):
        prepare_table_inference(run_dir=run_dir)
