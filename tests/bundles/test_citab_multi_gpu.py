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
"""CITab ``multi_gpu_train.json`` with 2 CPU processes (gloo) under ``torchrun``: pretraining (matching loss inside
the DDP forward) ends with the same weights on both ranks, rank 0 alone writes bare checkpoints, a single process
resumes, and a 2-process fine-tuning run starts from the pretraining checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from monai_tabular.engines.citab import CITabPretrainForward
from monai_tabular.losses.citab import CITabPretrainLoss
from tests.bundles.bundle_helpers import REPO, read_json, run, tiny, torchrun_bundle
from tests.networks.test_citab import _batch, _net

PRETRAIN = REPO / "bundles" / "citab_pretrain"
FINETUNE = REPO / "bundles" / "citab_finetune"
SMALL = {"table_encoder_args": {"d_model": 16, "n_blocks": 1, "n_heads": 2, "dropout": 0.0}, "fusion_dim": 16,
         "fusion_blocks": 1, "fusion_heads": 2, "embed_dim": 8, "max_columns": 8}
SYNTHETIC = {"n_subjects": 40, "spatial_dims": 2, "image_size": [16, 16], "seed": 0}
# test-only: after training, every rank writes its parameters (DDP broadcasts rank 0's buffers, e.g. batch-norm
# statistics, at each forward, so only parameters are the same on every rank after the last step)
RANK_PARAMETERS = {"run": ["$@train#trainer.run()",
                           "$torch.save({k: p.detach() for k, p in @network.module.named_parameters()}, "
                           "os.path.join(@run_dir, 'rank%d_parameters.pt' % @rank))"]}


def _run_two_processes(bundle: Path, root: Path, extra_config: Path, **overrides) -> str:
    result = torchrun_bundle(bundle, ["train.json", "multi_gpu_train.json", str(extra_config)],
                             {"bundle_root": str(root), "epochs": 1, "batch_size": 4, "synthetic": SYNTHETIC,
                              "image_encoder_args": {"width_factor": 0.125}, **SMALL, **overrides}, timeout=240)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


def _assert_ranks_agree(run_dir: Path, checkpoint: dict[str, torch.Tensor], prefix: str = "") -> None:
    rank0, rank1 = (torch.load(run_dir / f"rank{r}_parameters.pt", map_location="cpu", weights_only=True)
                    for r in (0, 1))
    assert rank0.keys() == rank1.keys() and rank0
    for name in rank0:
        torch.testing.assert_close(rank1[name], rank0[name], rtol=0, atol=0, msg=f"{name} differs between ranks")
        torch.testing.assert_close(checkpoint[name.removeprefix(prefix)], rank1[name], rtol=0, atol=0)


def test_pretrain_forward_computes_the_loss_terms_of_its_network():
    net = _net(pretraining=True).eval()
    batch = _batch()
    wrapped = CITabPretrainForward(network=net, loss=CITabPretrainLoss(matcher=net.match_logits, seed=0))
    inside = CITabPretrainForward.terms(wrapped(batch))
    outside = CITabPretrainLoss(matcher=net.match_logits, seed=0)(net(batch), batch)
    assert sorted(inside) == ["itc", "itm"]
    for name in inside:
        torch.testing.assert_close(inside[name], outside[name])
    with pytest.raises(ValueError, match="match_logits of the wrapped network"):
        CITabPretrainForward(network=net, loss=CITabPretrainLoss(matcher=_net(pretraining=True).match_logits))
    with pytest.raises(ValueError, match="pretraining=True"):
        CITabPretrainForward(network=_net(), loss=CITabPretrainLoss())


@pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")
def test_citab_pretrain_and_finetune_on_two_cpu_processes(tmp_path):
    extra = tmp_path / "rank_parameters.json"
    extra.write_text(json.dumps(RANK_PARAMETERS))
    pretrain_root = tmp_path / "pretrain"
    log = _run_two_processes(PRETRAIN, pretrain_root, extra)
    assert "itm:" in log  # the matching term ran (inside the DDP forward)
    run_dir = pretrain_root / "runs" / "fold0"
    checkpoints = sorted(p.name for p in run_dir.glob("*.pt") if not p.name.startswith("rank"))
    assert checkpoints == ["last.pt", "model.pt"] and not list(run_dir.glob("*.partial"))
    last = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    model = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
    for state in (last["network"], model):  # the bare CITab: neither DDP's "module." nor the wrapper's "network."
        assert "_extra_state" in state and not any(k.startswith(("module.", "network.")) for k in state)
    pretrain_size = len(read_json(run_dir / "pretrain_subjects.json")["pretrain"])
    per_rank = pretrain_size // 2 // 4  # each of the 2 ranks sees half of the pretraining set, batch 4
    assert last["trainer"]["iteration"] == per_rank
    _assert_ranks_agree(run_dir, last["network"], prefix="network.")
    # a single process resumes the 2-process run from its last.pt
    run(["train.json"], tiny(pretrain_root, spatial_dims=2, epochs=2, batch_size=4, **SMALL), bundle=PRETRAIN)
    resumed = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    assert resumed["trainer"]["iteration"] == 2 * (pretrain_size // 4)  # resumed epochs: single-process length

    finetune_root = tmp_path / "finetune"
    _run_two_processes(FINETUNE, finetune_root, extra, pretrained=str(run_dir / "model.pt"))
    run_dir = finetune_root / "runs" / "fold0"
    report = read_json(run_dir / "pretrained_report.json")
    assert report["new"] == ["classifier.bias", "classifier.weight"]
    last = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    assert not any(k.startswith("module.") for k in last["network"])
    assert last["trainer"]["iteration"] == len(read_json(run_dir / "split.json")["train"]) // 2 // 4
    assert read_json(run_dir / "summary.json")["best_metric_epoch"] == 1
    _assert_ranks_agree(run_dir, last["network"])
