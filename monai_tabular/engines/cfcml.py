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
"""CFCML's engine hook: the training sampler, optionally class-balanced (the CFCML paper's data are imbalanced)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
from torch.utils.data import Sampler, WeightedRandomSampler
from torch.utils.data.distributed import DistributedSampler

__all__ = ["train_sampler"]


def train_sampler(*, dataset: Sequence, records: Sequence[dict], balanced: bool = False, seed: int = 0,
                  label_key: str = "label") -> Sampler:
    """The training sampler: a seeded shuffling ``DistributedSampler`` (one replica), or, with ``balanced``, a
    ``WeightedRandomSampler`` drawing ``len(records)`` samples with replacement, each with weight
    ``1 / count(its class)`` over the training records (every class is drawn equally often on average).

    The weighted sampler draws from torch's global generator, which ``EpochSeedHandler`` seeds at each epoch.

    Example:
        >>> records = [{"label": "a"}] * 3 + [{"label": "b"}]
        >>> sampler = train_sampler(dataset=records, records=records, balanced=True)
        >>> [round(float(w), 3) for w in sampler.weights]
        [0.333, 0.333, 0.333, 1.0]
    """
    if len(dataset) != len(records):
        raise ValueError(f"the dataset has {len(dataset)} items but {len(records)} records were given")
    if not balanced:
        return DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=int(seed))
    labels = [str(r.get(label_key)) for r in records]
    counts = Counter(labels)
    weights = torch.tensor([1.0 / counts[label] for label in labels], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples=len(labels), replacement=True)
