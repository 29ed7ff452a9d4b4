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
"""Run-folder handlers on a plain ignite engine: ``ResumableCheckpoint``, ``StopAfterEpoch``, JSON writers."""

from __future__ import annotations

import json

import torch
from ignite.engine import Engine, Events

from monai_tabular.handlers import MetricsJSONWriter, ResumableCheckpoint, StopAfterEpoch


def _training(run_dir, *, stop_after=None, max_epochs=4):
    """One SGD step per iteration of a linear model on fixed data; returns (engine, model)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.tensor([[1.0, 2.0], [0.5, -1.0]]), torch.tensor([[1.0], [0.0]])

    def step(engine, batch):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    engine = Engine(step)
    ResumableCheckpoint(run_dir, {"network": model, "optimizer": optimizer}).attach(engine)
    StopAfterEpoch(stop_after).attach(engine)
    return engine, model


def test_stop_and_resume_equals_uninterrupted(tmp_path):
    engine, full = _training(tmp_path / "full")
    engine.run([0, 1], max_epochs=4)
    stopped_engine, _ = _training(tmp_path / "split", stop_after=2)
    stopped_engine.run([0, 1], max_epochs=4)
    assert stopped_engine.state.epoch == 2
    saved = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    assert saved["trainer"]["iteration"] == 4 and set(saved) >= {"network", "optimizer", "trainer"}
    resumed_engine, resumed = _training(tmp_path / "split")
    resumed_engine.run([0, 1], max_epochs=4)
    assert resumed_engine.state.epoch == 4
    for a, b in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b)
    assert not (tmp_path / "split" / "last.partial").exists()


def test_stop_after_epoch_disabled_values():
    assert StopAfterEpoch(None).epoch is None and StopAfterEpoch(0).epoch is None and StopAfterEpoch("").epoch is None
    assert StopAfterEpoch("3").epoch == 3


def test_metrics_json_writer_keeps_numbers(tmp_path):
    engine = Engine(lambda e, b: None)
    path = tmp_path / "metrics_both.json"
    MetricsJSONWriter(path, extra={"mode": "both"}).attach(engine)

    @engine.on(Events.ITERATION_COMPLETED)
    def _set_metrics(e):
        e.state.metrics.update({"auc": 0.75, "val_all": {"auc": 0.75}, "n": 3})

    engine.run([0], max_epochs=1)
    written = json.loads(path.read_text())
    assert written == {"mode": "both", "metrics": {"auc": 0.75, "n": 3.0}}
