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
"""``EpochSeedHandler``: the randomness of an epoch depends only on (seed, epoch)."""

from __future__ import annotations

import random

import numpy as np
import torch
from ignite.engine import Engine
from monai.data import Dataset
from monai.transforms import Compose, RandGaussianNoise
from torch.utils.data import DataLoader

from monai_tabular.handlers import EpochSeedHandler


def _engine(seed: int) -> tuple[Engine, dict[int, tuple]]:
    """An engine drawing from python, numpy, torch and a dataset's random transform once per epoch."""
    dataset = Dataset(data=[np.zeros((1, 4, 4), dtype=np.float32)], transform=Compose([RandGaussianNoise(prob=1.0)]))
    draws: dict[int, tuple] = {}

    def process(engine, batch):
        draws[engine.state.epoch] = (random.random(), float(np.random.rand()), float(torch.rand(1)),
                                     float(np.asarray(dataset[0]).sum()))

    engine = Engine(process)
    engine.data_loader = DataLoader(dataset)  # where MONAI workflows keep their loader
    EpochSeedHandler(seed=seed).attach(engine)
    return engine, draws


def test_epoch_randomness_depends_only_on_seed_and_epoch():
    engine, uninterrupted = _engine(seed=3)
    engine.run([0], max_epochs=3)

    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    _ = random.random(), np.random.rand(5), torch.rand(5)  # another history before the resumed epochs
    resumed, draws = _engine(seed=3)
    resumed.load_state_dict({"epoch": 1, "epoch_length": 1, "max_epochs": 3})
    resumed.run([0], max_epochs=3)
    assert sorted(draws) == [2, 3]
    assert draws[2] == uninterrupted[2] and draws[3] == uninterrupted[3]


def test_epochs_and_seeds_differ():
    first, draws_a = _engine(seed=3)
    first.run([0], max_epochs=2)
    second, draws_b = _engine(seed=4)
    second.run([0], max_epochs=2)
    assert draws_a[1] != draws_a[2]
    for a, b in zip(draws_a[1], draws_a[2]):
        assert a != b  # every source of randomness changes between epochs
    assert draws_a[1] != draws_b[1]
    # seed 3 at epoch 2 and seed 4 at epoch 1 both use seed + epoch = 5
    assert draws_a[2] == draws_b[1]
