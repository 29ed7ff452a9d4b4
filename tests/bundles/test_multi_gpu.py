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
"""``multi_gpu_train.json`` with 2 CPU processes (gloo) under ``torchrun``; a single process resumes its run."""

from __future__ import annotations

import json

import pytest
import torch

from monai_tabular.handlers import load_checkpoint
from monai_tabular.networks import create_classifier
from tests.bundles.bundle_helpers import BUNDLE, RANK_STATES_CONFIG, rank0_run_dir, read_json, run, tiny, torchrun_bundle


@pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")
def test_multi_gpu_config_on_two_cpu_processes(tmp_path):
    states = tmp_path / "rank_states.json"
    states.write_text(json.dumps(RANK_STATES_CONFIG))
    result = torchrun_bundle(BUNDLE, ["train.json", "multi_gpu_train.json", str(states)],
                             tiny(tmp_path, epochs=1, batch_size=4), timeout=240)
    run_dir = rank0_run_dir(result, tmp_path)  # one best model, written by rank 0 only
    rank0, rank1 = (torch.load(run_dir / f"rank{r}.state", map_location="cpu", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for key in rank0:  # DDP kept the two processes' weights (and buffers) in step
        torch.testing.assert_close(rank0[key], rank1[key], msg=key)
    network_args = read_json(run_dir / "network.json")
    load_checkpoint(run_dir / "model.pt", {"network": create_classifier(**network_args)})  # no "module." prefix
    summary = read_json(run_dir / "summary.json")
    assert summary["key_metric"] == "val_auc" and summary["best_metric_epoch"] == 1
    split = read_json(run_dir / "split.json")
    # each of the 2 ranks trains on half of the training set: one epoch is len(train) / 2 / batch 4 iterations
    last = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    per_rank = len(split["train"]) // 2 // 4
    assert last["trainer"]["iteration"] == per_rank
    # last.pt holds the bare network (no DDP "module." prefix), so a single process can resume the run
    assert not any(key.startswith("module.") for key in last["network"])
    run(["train.json"], tiny(tmp_path, epochs=2, batch_size=4))
    resumed = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    assert resumed["trainer"]["max_epochs"] == 2
    # the resumed epochs have the single-process length: 2 epochs of len(train) / batch 4 iterations
    assert resumed["trainer"]["iteration"] == 2 * (len(split["train"]) // 4)
    assert any(not torch.equal(last["network"][k], resumed["network"][k]) for k in last["network"])
