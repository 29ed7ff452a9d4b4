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
"""``citab_pretrain`` on synthetic cohorts with different columns, then ``citab_finetune`` on a table with a column
never seen in pretraining: pretrained / from scratch / linear probe, evaluation files, bad checkpoints."""

from __future__ import annotations

import json
import pandas as pd
import pytest
import torch

from tests.bundles.bundle_helpers import REPO, error_messages, run, tiny

PRETRAIN = REPO / "bundles" / "citab_pretrain"
FINETUNE = REPO / "bundles" / "citab_finetune"
SMALL = {"table_encoder_args": {"d_model": 16, "n_blocks": 1, "n_heads": 2, "dropout": 0.0}, "fusion_dim": 16,
         "fusion_blocks": 1, "fusion_heads": 2, "embed_dim": 8, "max_columns": 8}
# "smoker" is in no pretraining cohort: the fine-tuning table has a column pretraining never saw
COHORTS = [{"name": "demographics", "columns": ["age", "sex"]},
           {"name": "lab", "columns": ["biomarker", "site", "age"]}]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("citab_pretrain")
    run(["train.json"], tiny(root, spatial_dims=2, epochs=2, cohorts=COHORTS, **SMALL), bundle=PRETRAIN)
    return root / "runs" / "fold0"


def test_pretraining_run_files(pretrained):
    for name in ("model.pt", "last.pt", "network.json", "header_texts.json", "cohorts.json",
                 "cohort_demographics.json", "cohort_lab.json", "pretrain_subjects.json"):
        assert (pretrained / name).is_file(), name
    cohorts = json.loads((pretrained / "cohorts.json").read_text())
    assert sorted(cohorts["lab"]["columns"]) == ["age", "biomarker", "site"]
    subjects = json.loads((pretrained / "pretrain_subjects.json").read_text())
    assert subjects["held_out_test"] and not set(subjects["pretrain"]) & set(subjects["held_out_test"])
    state = torch.load(pretrained / "model.pt", map_location="cpu", weights_only=True)  # a bare state dict
    assert state["_extra_state"]["image_encoder"] == "resnet10(width_factor=0.125)"
    assert not any("smoking status" in t for t in state["_extra_state"]["header_texts"])


def test_finetune_from_pretrained_lists_unseen_columns_and_evaluates(pretrained, tmp_path, capsys):
    overrides = tiny(tmp_path, spatial_dims=2, epochs=2, pretrained=str(pretrained / "model.pt"), label_fraction=0.5,
                     image_cache_dir=str(tmp_path / "cache"), **SMALL)
    run(["train.json"], overrides, bundle=FINETUNE)
    logged = [line for line in capsys.readouterr().out.splitlines() if "never seen in pretraining" in line]
    assert logged and "smoking status" in logged[0]  # the bundle's log lists the unseen columns
    run_dir = tmp_path / "runs" / "fold0"
    report = json.loads((run_dir / "pretrained_report.json").read_text())
    assert "smoking status" in report["unseen_headers"] and report["new"] == ["classifier.bias", "classifier.weight"]
    split = json.loads((run_dir / "split.json").read_text())
    assert len(split["train"]) == 12  # half of the 24 training subjects, stratified
    run(["train.json", "evaluate.json"], {**overrides, "eval_mode": "both"}, bundle=FINETUNE)
    predictions = pd.read_csv(run_dir / "predictions_both.csv")
    assert len(predictions) == len(split["test"]) and {"prob_control", "prob_case"} <= set(predictions.columns)
    assert json.loads((run_dir / "metrics_both.json").read_text())["model"] == "citab"
    cached = list((tmp_path / "cache" / "16x16").glob("*.pt"))  # images preprocessed once, kept for later runs
    assert len(cached) == len(split["train"]) + len(split["val"]) + len(split["test"])


def test_finetune_from_scratch_and_linear_probe(pretrained, tmp_path):
    run(["train.json"], tiny(tmp_path / "scratch", spatial_dims=2, epochs=1, from_scratch=True, **SMALL),
        bundle=FINETUNE)
    assert not (tmp_path / "scratch" / "runs" / "fold0" / "pretrained_report.json").exists()
    probe = tmp_path / "probe"
    run(["train.json"], tiny(probe, spatial_dims=2, epochs=1, pretrained=str(pretrained / "model.pt"),
                             linear_probe=True, **SMALL), bundle=FINETUNE)
    tuned = torch.load(probe / "runs" / "fold0" / "last.pt", map_location="cpu", weights_only=True)["network"]
    source = torch.load(pretrained / "model.pt", map_location="cpu", weights_only=True)
    for key in ("image_encoder.conv1.weight", "table_encoder.header_proj.0.weight", "itm_head.weight"):
        torch.testing.assert_close(tuned[key], source[key])  # frozen: only the classifier trained


def test_finetune_needs_a_pretrained_checkpoint_of_the_same_image_encoder(pretrained, tmp_path):
    with pytest.raises(Exception) as missing:
        run(["train.json"], tiny(tmp_path / "none", spatial_dims=2, epochs=1, **SMALL), bundle=FINETUNE)
    assert any("--from_scratch" in m for m in error_messages(missing.value))
    with pytest.raises(Exception) as other:
        run(["train.json"], tiny(tmp_path / "other", spatial_dims=2, epochs=1, image_encoder="resnet18",
                                 pretrained=str(pretrained / "model.pt"), **SMALL), bundle=FINETUNE)
    assert any("resnet10(width_factor=0.125)" in m and "resnet18(width_factor=0.125)" in m
               for m in error_messages(other.value))
