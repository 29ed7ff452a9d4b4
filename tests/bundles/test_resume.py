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
"""A run stopped after epoch 2 and resumed from ``last.pt`` ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.handlers import ResumableCheckpoint
from tests.bundles.bundle_helpers import network_state, read_json, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


def test_stopped_and_resumed_run_equals_uninterrupted(tmp_path, monkeypatch):
    started_at: list[int] = []  # the trainer's epoch right after ResumableCheckpoint.load, per run
    original = ResumableCheckpoint.load

    def recording_load(self, engine):
        original(self, engine)
        started_at.append(int(engine.state.epoch))

    monkeypatch.setattr(ResumableCheckpoint, "load", recording_load)

    full, split = tmp_path / "full", tmp_path / "split"
    run(["train.json"], tiny(full, epochs=4))
    run(["train.json"], tiny(split, epochs=4, stop_after_epoch=2))
    stopped = torch.load(split / "runs" / "fold0" / "last.pt", map_location="cpu", weights_only=True)
    assert stopped["trainer"]["iteration"] == 2 * stopped["trainer"]["epoch_length"]
    run(["train.json"], tiny(split, epochs=4))
    assert started_at == [0, 0, 2]  # the third run resumed after epoch 2

    full_state = network_state(full / "runs" / "fold0" / "last.pt")
    resumed_state = network_state(split / "runs" / "fold0" / "last.pt")
    assert full_state.keys() == resumed_state.keys()
    for key, value in full_state.items():
        torch.testing.assert_close(resumed_state[key], value, rtol=1e-5, atol=1e-6, msg=key)
    untrained_changed = any(not torch.equal(stopped["network"][k], full_state[k]) for k in full_state)
    assert untrained_changed  # epochs 3-4 did change the weights, so equality means something

    full_summary = read_json(full / "runs" / "fold0" / "summary.json")
    resumed_summary = read_json(split / "runs" / "fold0" / "summary.json")
    assert full_summary["last_metrics"].keys() == resumed_summary["last_metrics"].keys()
    for key, value in full_summary["last_metrics"].items():
        assert resumed_summary["last_metrics"][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert resumed_summary["best_metric"] == pytest.approx(full_summary["best_metric"])
    assert resumed_summary["best_metric_epoch"] == full_summary["best_metric_epoch"]
