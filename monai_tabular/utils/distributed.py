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
"""Cross-process helpers for ``torch.distributed`` runs; each one is the identity in a single process.

Contrastive negatives, class prototypes and the CHARMS alignment need every sample of a global batch, not the
shard one process sees. These helpers gather rows across processes in rank order, so that a run on ``W``
processes with ``B`` rows each computes what one process computes on the ``W * B`` rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist

__all__ = ["is_distributed", "rank_and_world", "gather_rows", "gather_with_grad", "all_reduce_sum",
           "average_gradients"]


def is_distributed() -> bool:
    """``True`` inside an initialised process group of more than one process.

    Example:
        >>> is_distributed()
        False
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group.

    Example:
        >>> rank_and_world()
        (0, 1)
    """
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def _row_counts(tensor: torch.Tensor) -> list[int]:
    count = torch.tensor([tensor.shape[0]], dtype=torch.long, device=tensor.device)
    counts = [torch.zeros_like(count) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, count)
    return [int(c) for c in counts]


def _gather_padded(tensor: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """All ranks' rows (rank order), padding to the longest shard for ``all_gather`` and trimming after."""
    longest = max(counts)
    padded = tensor
    if tensor.shape[0] < longest:
        padded = torch.cat([tensor, tensor.new_zeros((longest - tensor.shape[0], *tensor.shape[1:]))])
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:count] for part, count in zip(parts, counts)])


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Every process's rows (dim 0), concatenated in rank order, without gradient; shards may differ in length.

    Example:
        >>> gather_rows(torch.ones(2, 3)).shape   # one process: the tensor itself
        torch.Size([2, 3])
    """
    if not is_distributed():
        return tensor
    return _gather_padded(tensor.detach(), _row_counts(tensor))


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: torch.Tensor, counts: list[int]) -> torch.Tensor:
        rank = dist.get_rank()
        ctx.start, ctx.stop = sum(counts[:rank]), sum(counts[:rank + 1])
        return _gather_padded(tensor, counts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        # every process's loss depends on this shard: sum their gradients (all_reduce works on gloo and nccl)
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.start:ctx.stop], None


def gather_with_grad(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every process's rows in rank order, differentiable, and where this process's rows start.

    The backward pass sums, over processes, the gradient each process's loss sends to this shard. With DDP's
    gradient averaging, training on ``W`` processes then follows the gradient of the mean of their losses,
    which for a loss averaged over local rows against all gathered rows is the single-process loss of the
    whole global batch.

    Example:
        >>> rows, start = gather_with_grad(torch.ones(4, 8, requires_grad=True))
        >>> rows.shape, start
        (torch.Size([4, 8]), 0)
    """
    if not is_distributed():
        return tensor, 0
    counts = _row_counts(tensor)
    return _GatherWithGrad.apply(tensor, counts), sum(counts[:dist.get_rank()])


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise sum over processes (a new tensor; the input is unchanged).

    Example:
        >>> all_reduce_sum(torch.tensor([1.0, 2.0])).tolist()
        [1.0, 2.0]
    """
    if not is_distributed():
        return tensor
    total = tensor.detach().clone()
    dist.all_reduce(total)
    return total


def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Average ``.grad`` over processes in place (for steps that bypass DDP, e.g. GAAL's per-modality steps).

    A parameter that has a gradient on some process only counts as zero on the others; one without a gradient
    anywhere keeps ``None`` (so optimisers still skip it). All processes end with the same gradients and, after
    the optimiser step, the same weights. One ``all_reduce`` of a flat buffer per call.

    Example:
        >>> layer = torch.nn.Linear(2, 1)
        >>> layer(torch.ones(1, 2)).sum().backward()
        >>> average_gradients(layer.parameters())   # one process: unchanged
    """
    if not is_distributed():
        return
    parameters = [p for p in parameters if p.requires_grad]
    if not parameters:
        return
    device = parameters[0].device
    has_grad = torch.tensor([p.grad is not None for p in parameters], dtype=torch.float32, device=device)
    dist.all_reduce(has_grad)
    parameters = [p for p, flag in zip(parameters, has_grad.tolist()) if flag > 0]
    if not parameters:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float()
                      for p in parameters])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in parameters:
        size = p.numel()
        p.grad = flat[offset:offset + size].view_as(p).to(p.dtype)
        offset += size
