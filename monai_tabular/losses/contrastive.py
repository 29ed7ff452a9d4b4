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
"""Symmetric InfoNCE between paired embeddings, with negatives from every process of a distributed run.

CITab's ITC, MT-CMTM's image-table term and CFCML's sample-level CCRM term are this loss with different
temperatures. In a ``torch.distributed`` run the other processes' pairs are negatives too: each process scores
its own rows against the gathered rows of all processes, and its loss is scaled by its share of the global
batch, so the mean over processes (what DDP's gradient averaging follows) is the single-process loss of the
whole global batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from monai_tabular.utils.distributed import gather_with_grad, rank_and_world

__all__ = ["paired_info_nce"]


def paired_info_nce(first: torch.Tensor, second: torch.Tensor, *, temperature: float = 0.1,
                    owner: str = "paired_info_nce") -> torch.Tensor:
    """Row ``i`` of ``first`` and row ``i`` of ``second`` are a positive pair, every other row a negative.

    Args:
        first, second: (B, D) paired embeddings (cosine similarity is used).
        temperature: softmax temperature (> 0).
        owner: the name used in error messages.

    Example:
        >>> x = torch.eye(4)
        >>> bool(paired_info_nce(x, x) < paired_info_nce(x, x.roll(1, 0)))
        True
    """
    if first.ndim != 2 or first.shape != second.shape:
        raise ValueError(f"{owner}: the two embeddings must both be (B, D), with the same shape, got "
                         f"{tuple(first.shape)} and {tuple(second.shape)}")
    if not float(temperature) > 0:
        raise ValueError(f"{owner}: temperature must be > 0, got {temperature!r}")
    first, second = F.normalize(first.float(), dim=-1), F.normalize(second.float(), dim=-1)
    pairs, start = gather_with_grad(torch.cat([first, second], dim=1))  # both sides in one gather
    all_first, all_second = pairs.split(first.shape[1], dim=1)
    if all_first.shape[0] < 2:
        raise ValueError(f"{owner} needs at least 2 pairs per batch (the other pairs are the negatives), got "
                         f"{all_first.shape[0]}; use drop_last=True or a larger batch")
    target = torch.arange(start, start + first.shape[0], device=first.device)
    loss = 0.5 * (F.cross_entropy(first @ all_second.t() / float(temperature), target)
                  + F.cross_entropy(second @ all_first.t() / float(temperature), target))
    _, world = rank_and_world()
    return loss * (first.shape[0] * world / all_first.shape[0])
