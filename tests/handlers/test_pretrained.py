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
"""``load_matching_weights``: same-shaped tensors load, the table input layers of another width start fresh."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine

from monai_tabular.handlers import CheckpointLoadError, PretrainedWeightsLoader, load_matching_weights
from monai_tabular.networks.nets import FusionClassifier


def _fusion(n_numerical: int, seed: int) -> FusionClassifier:
    torch.manual_seed(seed)
    return FusionClassifier(image_encoder="resnet10", spatial_dims=2, in_channels=1, n_numerical=n_numerical,
                            cardinalities=[3, 4], out_channels=2, image_encoder_args={"width_factor": 0.125})


@pytest.fixture
def pretrained(tmp_path):
    net = _fusion(n_numerical=2, seed=0)
    path = tmp_path / "model.pt"
    torch.save({"network": net.state_dict()}, path)
    return net, path


def test_same_architecture_loads_everything(pretrained):
    source, path = pretrained
    target = _fusion(n_numerical=2, seed=1)
    report = load_matching_weights(target, path)
    assert report["new"] == [] and report["unused"] == []
    assert report["loaded"] == sorted(source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_other_table_width_reports_new_tensors(pretrained):
    source, path = pretrained
    target = _fusion(n_numerical=3, seed=1)
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    report = load_matching_weights(target, path)
    assert report["new"] == ["table_encoder.layers.0.0.weight", "table_encoder.missing_value"]
    assert report["unused"] == report["new"]  # the checkpoint's tensors of the same names had other shapes
    assert all(k.startswith("image_encoder.") for k in source.state_dict() if "image_encoder" in k)
    assert {k for k in source.state_dict() if k.startswith("image_encoder.")} <= set(report["loaded"])
    assert "head.0.weight" in report["loaded"] and "table_encoder.embedding.weight" in report["loaded"]
    state = target.state_dict()
    for key in report["loaded"]:
        assert torch.equal(state[key], source.state_dict()[key])
    for key in report["new"]:
        assert torch.equal(state[key], fresh[key])  # untouched: trained from scratch
    assert len(report["loaded"]) + len(report["new"]) == len(state)


def test_bare_state_dict_and_errors(tmp_path, pretrained):
    source, _ = pretrained
    bare = tmp_path / "bare.pt"
    torch.save(source.state_dict(), bare)
    report = load_matching_weights(_fusion(n_numerical=2, seed=1), bare)
    assert report["new"] == []
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_matching_weights(source, tmp_path / "absent.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00junk")
    with pytest.raises(CheckpointLoadError, match="junk.pt"):
        load_matching_weights(source, junk)


def test_pretrained_loader_only_on_a_fresh_start(pretrained):
    source, path = pretrained
    target = _fusion(n_numerical=2, seed=1)
    engine = Engine(lambda e, b: None)
    loader = PretrainedWeightsLoader(path, target)
    loader.attach(engine)
    engine.run([0], max_epochs=1)
    assert loader.report is not None and loader.report["new"] == []
    assert torch.equal(target.head[0].weight, source.head[0].weight)

    resumed_target = _fusion(n_numerical=2, seed=1)
    before = resumed_target.head[0].weight.clone()
    resumed = Engine(lambda e, b: None)
    resumed.load_state_dict({"epoch": 1, "epoch_length": 1, "max_epochs": 2})
    skipped = PretrainedWeightsLoader(path, resumed_target)
    skipped.attach(resumed)
    resumed.run([0], max_epochs=2)
    assert skipped.report is None  # resuming: the run's own checkpoint wins
    assert torch.equal(resumed_target.head[0].weight, before)
