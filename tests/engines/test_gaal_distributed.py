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
"""GAALStep on 2 gloo processes, each with half of a fixed batch, against one process on the whole batch.

The networks run in eval mode for the gradient comparisons: BatchNorm then uses its running statistics, so a
sample's loss does not depend on the other rows of its process (as with DDP without SyncBatchNorm, batch
statistics are per process).
"""

from __future__ import annotations

import math
from datetime import timedelta
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from monai_tabular.engines.gaal import GAALStep
from monai_tabular.networks.gaal import GAALNetwork
from tests.bundles.bundle_helpers import spawn_gloo

WORLD = 2
BATCH = 8
# rows of the global batch without a table: none; 3 of rank 1's 4 rows; all of rank 1's rows (rank 1 has no table
# row: it takes part in the table step with zero gradients)
TABLE_ABSENT = {"all_present": [], "unequal": [5, 6, 7], "one_rank_empty": [4, 5, 6, 7]}



def _net(*, dropout: float = 0.0) -> GAALNetwork:
    torch.manual_seed(0)
    return GAALNetwork(spatial_dims=2, in_channels=1, n_numerical=3, cardinalities=[3], out_channels=2,
                       image_encoder="resnet10", image_encoder_args={"width_factor": 0.125},
                       table_encoder_args={"hidden_dims": [16], "dropout": 0.0}, embed_dim=8, dropout=dropout)


def _batch(absent: list[int], seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {"image": torch.randn(BATCH, 1, 16, 16, generator=generator),
            "numerical": torch.randn(BATCH, 3, generator=generator), "numerical_mask": torch.ones(BATCH, 3),
            "categorical": torch.randint(1, 3, (BATCH, 1), generator=generator),
            "categorical_mask": torch.ones(BATCH, 1),
            "table_present": torch.tensor([0.0 if i in absent else 1.0 for i in range(BATCH)]),
            "label": torch.tensor([0, 1, 1, 0, 1, 0, 0, 1]), "subject_id": [f"sub-{i}" for i in range(BATCH)]}


def _half(batch: dict, rank: int) -> dict:
    rows = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    return {key: value[rows] for key, value in batch.items()}


class RecordingOptimizer(torch.optim.SGD):
    """SGD (learning rate 0 by default) recording the gradients of every step by parameter name."""

    def __init__(self, named_parameters, lr: float = 0.0):
        named = list(named_parameters)
        super().__init__([p for _, p in named], lr=lr)
        self.names = {id(p): name for name, p in named}
        self.steps: list[dict[str, torch.Tensor]] = []

    def step(self, closure=None):
        self.steps.append({self.names[id(p)]: p.grad.clone() for g in self.param_groups for p in g["params"]
                           if p.grad is not None})
        return super().step(closure)


def _assert_same_rows(first: list[dict], second: list[dict]) -> None:
    """Histories equal value for value (NaN equals NaN: no reference yet)."""
    assert len(first) == len(second)
    for a, b in zip(first, second):
        assert a.keys() == b.keys()
        for key, value in a.items():
            both_nan = isinstance(value, float) and math.isnan(value) and math.isnan(b[key])
            assert both_nan or value == b[key], (key, value, b[key])


def _engine(net, optimizer):
    return SimpleNamespace(network=net, optimizer=optimizer, state=SimpleNamespace(epoch=1, iteration=1, device="cpu"),
                           use_amp=False, clip_grad_norm=None, grad_scaler=None, grad_accumulation=1)


def _plain_step(batch: dict) -> tuple[list[dict[str, torch.Tensor]], GAALStep, GAALNetwork]:
    """One GAAL iteration without surgery, learning rate 0: the gradients of the image and the table steps."""
    net = _net().eval()
    optimizer = RecordingOptimizer(net.named_parameters())
    step = GAALStep(surgery=False)
    step(_engine(net, optimizer), batch)
    return optimizer.steps, step, net


def _worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    try:
        results = {}
        for case, absent in TABLE_ABSENT.items():
            steps, step, net = _plain_step(_half(_batch(absent), rank))
            _, hard_features, hard_labels = step._hard  # the table step's hard samples of this process
            results[case] = {"steps": steps, "history": step.records(), "hard_features": hard_features,
                             "hard_labels": hard_labels,
                             "reference": step._reference(net, list(net.classifier.parameters()))}
        # training mode (BatchNorm batch statistics, dropout), surgery on, AdamW: two iterations on different data
        net = _net(dropout=0.2).train()
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2)
        step, engine = GAALStep(epsilon=0.75), _engine(net, optimizer)
        for iteration in (1, 2):
            engine.state.iteration = iteration
            step(engine, _half(_batch(TABLE_ABSENT["unequal"], seed=iteration), rank))
        results["trained"] = {"state": net.state_dict(), "history": step.records()}
        torch.save(results, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    return spawn_gloo(_worker, tmp_path_factory.mktemp("gaal_ddp"), world=WORLD)


@pytest.mark.parametrize("case", list(TABLE_ABSENT))
def test_each_process_ends_with_the_single_process_gradient_of_the_whole_batch(two_processes, case):
    expected, _, _ = _plain_step(_batch(TABLE_ABSENT[case]))
    assert len(expected) == 2  # the image step, then the table step
    for result in two_processes:
        steps = result[case]["steps"]
        assert len(steps) == len(expected)
        for got, want in zip(steps, expected):
            assert got.keys() == want.keys()
            for name, grad in want.items():
                torch.testing.assert_close(got[name], grad, rtol=1e-5, atol=1e-6, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("case", list(TABLE_ABSENT))
def test_the_history_reports_the_global_batch(two_processes, case):
    _, single, _ = _plain_step(_batch(TABLE_ABSENT[case]))
    first, second = (result[case]["history"] for result in two_processes)
    _assert_same_rows(first, second)
    for got, want in zip(first, single.records()):
        assert got["n_samples"] == want["n_samples"]
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
        assert got["cos_previous"] == pytest.approx(want["cos_previous"], rel=1e-4, nan_ok=True)


@pytest.mark.parametrize("case", list(TABLE_ABSENT))
def test_hard_sample_gradient_is_the_mean_over_every_process_hard_samples(two_processes, case):
    """g_p: each process picks its own hard samples; the reference is the mean-loss gradient over their union."""
    features = torch.cat([result[case]["hard_features"] for result in two_processes])
    labels = torch.cat([result[case]["hard_labels"] for result in two_processes])
    n_present = BATCH - len(TABLE_ABSENT[case])
    assert labels.numel() == sum(-(-n // 2) for n in (4, n_present - 4) if n > 0)  # ceil(lambda * n) per process
    classifier = _net().classifier
    expected = torch.autograd.grad(F.cross_entropy(classifier(features), labels), list(classifier.parameters()))
    expected = torch.cat([g.reshape(-1) for g in expected])
    for result in two_processes:
        torch.testing.assert_close(result[case]["reference"], expected, rtol=1e-5, atol=1e-6)


def test_surgery_steps_leave_identical_weights_and_buffers_on_both_processes(two_processes):
    first, second = (result["trained"] for result in two_processes)
    assert first["state"].keys() == second["state"].keys()
    for name, tensor in first["state"].items():
        assert torch.equal(tensor, second["state"][name]), name
    initial = _net().state_dict()
    assert any(not torch.equal(initial[name], tensor) for name, tensor in first["state"].items())
    assert any("running_mean" in name for name in first["state"])
    history = first["history"]
    _assert_same_rows(history, second["history"])
    assert [row["n_samples"] for row in history] == [8, 5, 8, 5]
    assert any(row["surgery_v"] > 0 for row in history)


def test_a_ddp_wrapped_network_points_to_the_multi_gpu_config():
    ddp = torch.nn.parallel.DistributedDataParallel
    engine = SimpleNamespace(network=ddp.__new__(ddp), grad_accumulation=1)  # no process group needed
    with pytest.raises(ValueError, match="multi_gpu_train.json"):
        GAALStep()._check_engine(engine)
