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
"""The CFCML and CHARMS ``multi_gpu_train.json`` on 2 CPU processes (gloo): rank-0-only files, each process
trains on half the training set, and both processes end with the same weights and buffers (class prototypes,
channel-attribute alignment), gathered across processes."""

from __future__ import annotations

import json

import pytest
import torch

from tests.bundles.bundle_helpers import RANK_STATES_CONFIG, REPO, rank0_run_dir, read_json, tiny, torchrun_bundle
from tests.networks.test_text import make_tiny_bert

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")

SWIN_TINY = {"embed_dim": 8, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1], "patch_size": 2}


def _cfcml(root, tmp_path_factory):
    bert = str(make_tiny_bert(tmp_path_factory.mktemp("ddp_bert")))
    return tiny(root, spatial_dims=2, epochs=1, batch_size=4, text_model=bert, image_encoder="swin_t",
                image_encoder_args=SWIN_TINY, d_model=16, n_tokens=4, fusion_tokens=4, n_heads=2,
                text_cache_dir=False)


def _charms(root, tmp_path_factory):
    return tiny(root, spatial_dims=2, epochs=1, batch_size=4, image_encoder="resnet10", n_clusters=8,
                align_every=1, align_samples=16)


@pytest.mark.parametrize("method, overrides, buffers", [("cfcml", _cfcml, "image_prototypes"),
                                                        ("charms", _charms, "alignment")])
def test_two_processes_train_one_model(tmp_path, tmp_path_factory, method, overrides, buffers):
    states = tmp_path / "rank_states.json"
    states.write_text(json.dumps(RANK_STATES_CONFIG))
    result = torchrun_bundle(REPO / "bundles" / method, ["train.json", "multi_gpu_train.json", str(states)],
                             overrides(tmp_path, tmp_path_factory))
    run_dir = rank0_run_dir(result, tmp_path)
    last = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    assert not any(key.startswith("module.") for key in last["network"])
    assert last["trainer"]["iteration"] == len(read_json(run_dir / "split.json")["train"]) // 2 // 4
    rank0, rank1 = (torch.load(run_dir / f"rank{r}.state", map_location="cpu", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], msg=f"{method}: {key} differs between the processes")
    assert any(buffers in key for key in rank0) and float(rank0[next(k for k in rank0 if buffers in k)].abs().sum()) > 0
