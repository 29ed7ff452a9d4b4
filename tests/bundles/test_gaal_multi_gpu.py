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
"""``bundles/gaal/configs/multi_gpu_train.json`` with 2 CPU processes (gloo) under ``torchrun``: no DDP wrapper,
rank-0-only files, the same weights on both processes; a single process resumes the run."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from monai_tabular.handlers import load_checkpoint
from monai_tabular.networks.gaal import GAALNetwork
from tests.bundles.bundle_helpers import REPO, rank0_run_dir, read_json, run, tiny, torchrun_bundle

GAAL_BUNDLE = REPO / "bundles" / "gaal"
# an extra config (test only): after training, every process saves its network's state next to the run folder
RANK_STATES = {"run": ["$@train#trainer.run()",
                       "$torch.save(@network.state_dict(), os.path.join(@bundle_root, 'rank' + str(@rank) + '.pt'))"]}


@pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")
def test_gaal_multi_gpu_config_on_two_cpu_processes(tmp_path):
    extra = tmp_path / "rank_states.json"
    extra.write_text(json.dumps(RANK_STATES))
    result = torchrun_bundle(GAAL_BUNDLE, ["train.json", "multi_gpu_train.json", str(extra)],
                             tiny(tmp_path, epochs=1, batch_size=4), timeout=240)
    run_dir = rank0_run_dir(result, tmp_path)
    load_checkpoint(run_dir / "model.pt", {"network": GAALNetwork(**read_json(run_dir / "network.json"))})

    # each of the 2 ranks trains on half of the training set: one epoch is len(train) / 2 / batch 4 iterations
    split = read_json(run_dir / "split.json")
    last = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    per_rank = len(split["train"]) // 2 // 4
    assert last["trainer"]["iteration"] == per_rank
    assert not any(key.startswith("module.") for key in last["network"])

    # both processes end with the same parameters and buffers (and rank 0's are the ones saved)
    states = [torch.load(tmp_path / f"rank{rank}.pt", map_location="cpu", weights_only=True) for rank in (0, 1)]
    assert states[0].keys() == states[1].keys() == last["network"].keys()
    for name, tensor in states[0].items():
        assert torch.equal(tensor, states[1][name]), name
        assert torch.equal(tensor, last["network"][name]), name

    # the gradient history is written once (rank 0), one row per modality step, counting the global batch
    history = pd.read_csv(run_dir / "gaal_gradients.csv")
    assert len(history) == 2 * per_rank  # image + table per iteration, not once per process
    assert (history["n_samples"] == 2 * 4).all()
    assert (run_dir / "gaal_gradients.png").is_file()

    # a single process resumes the run from rank 0's last.pt
    run(["train.json"], tiny(tmp_path, epochs=2, batch_size=4), bundle=GAAL_BUNDLE)
    resumed = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    assert resumed["trainer"]["max_epochs"] == 2
    iterations = resumed["trainer"]["iteration"]
    assert iterations == 2 * (len(split["train"]) // 4)  # resumed epochs have the single-process length
    assert any(not torch.equal(last["network"][k], resumed["network"][k]) for k in last["network"])
    history = pd.read_csv(run_dir / "gaal_gradients.csv")
    # the resumed process appends its own steps: epoch 1 on 2 processes, epoch 2 on one
    assert len(history) == 2 * (per_rank + len(split["train"]) // 4)
    assert (history["n_samples"].iloc[2 * per_rank:] == 4).all()
