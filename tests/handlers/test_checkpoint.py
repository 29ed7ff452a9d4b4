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
"""``load_checkpoint``: round trip, tampered files refused by ``weights_only=True``, clear mismatch errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ignite.engine import Engine
from torch import nn

from monai_tabular.handlers import CheckpointLoadError, SafeCheckpointLoader, load_checkpoint


def _mark_executed(path: str) -> str:
    """What a malicious pickle would run on load: leaves a marker file."""
    Path(path).write_text("executed")
    return "payload"


class Payload:
    """A custom class: unpickling it runs ``_mark_executed`` (only when arbitrary pickles are allowed)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return _mark_executed, (self.marker,)


class Net(nn.Module):
    def __init__(self, n_in: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_in, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.encoder(x))


class OtherNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(3, 4)
        self.head = nn.Linear(4, 2)


def _randomised(net: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    return net


def test_round_trip_network_and_optimizer(tmp_path):
    net = _randomised(Net(), 0)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    path = tmp_path / "ckpt.pt"
    torch.save({"network": net.state_dict(), "optimizer": optimizer.state_dict()}, path)

    fresh = _randomised(Net(), 1)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.5)
    loaded = load_checkpoint(path, {"network": fresh, "optimizer": fresh_optimizer})
    assert set(loaded) == {"network", "optimizer"}
    for a, b in zip(net.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    assert fresh_optimizer.param_groups[0]["lr"] == 0.01
    assert len(fresh_optimizer.state) == len(optimizer.state) > 0


def test_bare_state_dict_with_single_object(tmp_path):
    net = _randomised(Net(), 0)
    path = tmp_path / "bare.pt"
    torch.save(net.state_dict(), path)
    fresh = _randomised(Net(), 1)
    load_checkpoint(path, {"network": fresh})
    assert torch.equal(fresh.head.weight, net.head.weight)


def test_tampered_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "executed.txt"
    path = tmp_path / "tampered.pt"
    torch.save({"network": Net().state_dict(), "extra": Payload(marker)}, path)
    with pytest.raises(CheckpointLoadError) as info:
        load_checkpoint(path, {"network": Net()})
    assert str(path) in str(info.value)
    assert "weights_only" in str(info.value)
    assert not marker.exists()  # the payload never ran


def test_checkpoint_of_another_network_names_keys(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"network": OtherNet().state_dict()}, path)
    with pytest.raises(CheckpointLoadError) as info:
        load_checkpoint(path, {"network": Net()})
    message = str(info.value)
    assert str(path) in message
    assert "Missing key" in message and "encoder.weight" in message
    assert "Unexpected key" in message and "backbone.weight" in message


def test_checkpoint_with_other_shapes_is_refused(tmp_path):
    path = tmp_path / "wide.pt"
    torch.save({"network": Net(n_in=5).state_dict()}, path)
    with pytest.raises(CheckpointLoadError, match="size mismatch"):
        load_checkpoint(path, {"network": Net(n_in=3)})


def test_checkpoint_without_the_entry(tmp_path):
    path = tmp_path / "net_only.pt"
    torch.save({"network": Net().state_dict()}, path)
    with pytest.raises(CheckpointLoadError, match="no entry for \\['optimizer'\\]"):
        net = Net()
        load_checkpoint(path, {"network": net, "optimizer": torch.optim.SGD(net.parameters(), lr=0.1)})


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        load_checkpoint(tmp_path / "nowhere.pt", {"network": Net()})


def test_damaged_file(tmp_path):
    path = tmp_path / "damaged.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointLoadError, match="damaged.pt"):
        load_checkpoint(path, {"network": Net()})


def test_engine_state_keeps_configured_max_epochs(tmp_path):
    trained = Engine(lambda e, b: None)
    trained.run([0, 1], max_epochs=2)
    path = tmp_path / "engine.pt"
    torch.save({"trainer": trained.state_dict()}, path)
    resumed = Engine(lambda e, b: None)
    resumed.state.max_epochs = 5
    load_checkpoint(path, {"trainer": resumed})
    assert resumed.state.epoch == 2 and resumed.state.max_epochs == 5
    too_short = Engine(lambda e, b: None)
    too_short.state.max_epochs = 1
    with pytest.raises(CheckpointLoadError, match="max_epochs"):
        load_checkpoint(path, {"trainer": too_short})


def test_safe_checkpoint_loader_handler(tmp_path):
    net = _randomised(Net(), 0)
    path = tmp_path / "model.pt"
    torch.save({"network": net.state_dict()}, path)
    fresh = _randomised(Net(), 1)
    engine = Engine(lambda e, b: None)
    SafeCheckpointLoader(path, {"network": fresh}).attach(engine)
    engine.run([0], max_epochs=1)
    assert torch.equal(fresh.head.weight, net.head.weight)
    optional = Engine(lambda e, b: None)
    SafeCheckpointLoader(tmp_path / "absent.pt", {"network": fresh}, optional=True).attach(optional)
    optional.run([0], max_epochs=1)  # a missing optional checkpoint is a fresh start
    required = Engine(lambda e, b: None)
    SafeCheckpointLoader(tmp_path / "absent.pt", {"network": fresh}).attach(required)
    with pytest.raises(FileNotFoundError):
        required.run([0], max_epochs=1)
