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
"""The MT-CMTM ``multi_gpu_train.json`` configs with 2 CPU processes (gloo) under ``torchrun``: pretraining, then
linear probing from the pretrained table encoder; a single process resumes the pretraining run."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from monai_tabular.handlers import load_checkpoint
from monai_tabular.networks.mtcmtm import MTCMTMPretrainer, MTCMTMTableModel
from tests.bundles.bundle_helpers import REPO, read_json, run, tiny, torchrun_bundle

PRETRAIN, FINETUNE = REPO / "bundles" / "mtcmtm_pretrain", REPO / "bundles" / "mtcmtm_finetune"
SYNTHETIC = {"n_subjects": 40, "spatial_dims": 2, "image_size": [16, 16], "seed": 0}
TABLE = {"table_encoder_args": {"embedding_dim": 8, "channels": [8, 16], "reduction": 4}}
SMALL = {**TABLE, "image_encoder": "resnet10", "image_encoder_args": {"width_factor": 0.125},
         "projection_dim": 16, "projection_hidden_dim": 16}
BATCH, EPOCHS = 4, 2
# test-only addition to the configs: after the run, each rank saves its own parameters next to the run folder
RANK_WEIGHTS = {"+finalize": ["$torch.save({k: v.detach() for k, v in @network.module.named_parameters()}, "
                              "os.path.join(@bundle_root, 'rank' + os.environ['RANK'] + '.pt'))"]}


def _run_two_processes(bundle: Path, root: Path, overrides: dict) -> str:
    """``torchrun --nproc_per_node 2`` of ``train.json + multi_gpu_train.json`` (+ the rank-weights dump)."""
    root.mkdir(parents=True, exist_ok=True)
    extra = root / "rank_weights.json"
    extra.write_text(json.dumps(RANK_WEIGHTS))
    result = torchrun_bundle(bundle, ["train.json", "multi_gpu_train.json", str(extra)],
                             {"bundle_root": str(root), **overrides}, timeout=240)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


def _assert_ranks_equal(root: Path) -> dict[str, torch.Tensor]:
    """Both ranks end with the same parameters (gradients averaged every step, although each rank saw other
    subjects and other corruptions); normalisation statistics are per rank and not compared."""
    first, second = (torch.load(root / f"rank{r}.pt", map_location="cpu", weights_only=True) for r in (0, 1))
    assert first and sorted(first) == sorted(second)
    assert all(torch.equal(first[k], second[k]) for k in first), [k for k in first
                                                                  if not torch.equal(first[k], second[k])][:5]
    return first


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mtcmtm_ddp") / "pretrain"
    log = _run_two_processes(PRETRAIN, root, {"epochs": EPOCHS, "batch_size": BATCH, "synthetic": SYNTHETIC, **SMALL})
    return root, log


@pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")
def test_pretraining_on_two_processes(pretrained):
    root, log = pretrained
    run_dir = root / "runs" / "fold0"
    assert sorted(p.name for p in run_dir.glob("*.pt")) == ["last.pt", "model.pt"]
    assert not list(run_dir.glob("*.partial"))
    assert log.count("Epoch: 1/2, Iter: 1/") == 1  # the loss terms are logged by rank 0 only
    last = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    model = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
    for state in (last["network"], model["network"]):
        assert not any(key.startswith("module.") for key in state)
    MTCMTMPretrainer(**read_json(run_dir / "network.json")).load_state_dict(model["network"])
    # each of the 2 ranks pretrains on half of the training part per epoch
    n_train = len(read_json(run_dir / "split.json")["train"])
    assert last["trainer"]["iteration"] == EPOCHS * (math.ceil(n_train / 2) // BATCH)
    summary = read_json(run_dir / "pretrain_summary.json")
    assert summary["epoch"] == EPOCHS and set(summary["last_loss_terms"]) == {"contrastive", "mask"}
    weights = _assert_ranks_equal(root)
    assert any(k.startswith("image_encoder.") for k in weights)  # the image branch is synchronised too
    assert all(torch.equal(weights[k], model["network"][k]) for k in weights)


@pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")
def test_linear_probe_on_two_processes_from_the_pretrained_encoder(pretrained):
    pretrain_root, _ = pretrained
    root = pretrain_root.parent / "probe"
    pretrain_dir = pretrain_root / "runs" / "fold0"
    _run_two_processes(FINETUNE, root, {"epochs": EPOCHS, "batch_size": BATCH, "synthetic": SYNTHETIC,
                                        "pretrained_dir": str(pretrain_root / "runs"), "linear_probe": True, **TABLE})
    run_dir = root / "runs" / "fold0"
    assert sorted(p.name for p in run_dir.glob("*.pt")) == ["last.pt", "model.pt"]
    assert (run_dir / "schema.json").read_text() == (pretrain_dir / "schema.json").read_text()
    network = MTCMTMTableModel(**read_json(run_dir / "network.json"))
    load_checkpoint(run_dir / "model.pt", {"network": network})  # no "module." prefix
    assert read_json(run_dir / "summary.json")["best_metric_epoch"] in range(1, EPOCHS + 1)
    weights = _assert_ranks_equal(root)
    source = torch.load(pretrain_dir / "model.pt", map_location="cpu", weights_only=True)["network"]
    encoder = [k for k in weights if k.startswith("table_encoder.")]
    # the frozen encoder is the pretrained one on both ranks; the head trained (in step on both ranks)
    assert encoder and all(torch.equal(weights[k], source[k]) for k in encoder)
    assert any(k.startswith("head.") for k in weights)


@pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")
def test_single_process_resumes_the_two_process_pretraining(pretrained):
    root = pretrained[0].parent / "resume"
    shutil.copytree(pretrained[0], root)  # the other tests keep the two-process run as it was
    run_dir = root / "runs" / "fold0"
    before = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    run(["train.json"], tiny(root, epochs=EPOCHS + 1, batch_size=BATCH, synthetic=SYNTHETIC, **SMALL),
        bundle=PRETRAIN)
    after = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    n_train = len(read_json(run_dir / "split.json")["train"])
    assert after["trainer"]["max_epochs"] == EPOCHS + 1
    # every epoch counted at the single-process length, one more epoch run
    assert after["trainer"]["iteration"] == (EPOCHS + 1) * (n_train // BATCH)
    assert any(not torch.equal(before["network"][k], after["network"][k]) for k in before["network"])
