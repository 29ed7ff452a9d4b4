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
"""Focal loss (Lin et al., 2017) for imbalanced classes: cross-entropy down-weighted on well-classified samples."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["focal_loss"]


def focal_loss(logits: torch.Tensor, target: torch.Tensor, *, gamma: float = 2.0,
               class_weights: torch.Tensor | Sequence[float] | None = None) -> torch.Tensor:
    """Mean of ``-w_y (1 - p_y)^gamma log p_y`` over the batch; ``gamma = 0`` is (weighted) cross-entropy.

    With ``class_weights`` the mean is weighted like :func:`torch.nn.functional.cross_entropy` (divided by the
    sum of the samples' weights).

    Args:
        logits: (B, C) class logits.
        target: (B,) class indices.
        gamma: focusing parameter (>= 0).
        class_weights: optional (C,) per-class weights.

    Example:
        >>> logits, target = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0])
        >>> bool(focal_loss(logits, target, gamma=2.0) < torch.nn.functional.cross_entropy(logits, target))
        True
    """
    if float(gamma) < 0:
        raise ValueError(f"focal loss gamma must be >= 0, got {gamma!r}")
    target = target.long().view(-1)
    log_p = torch.log_softmax(logits.float(), dim=-1).gather(1, target[:, None]).squeeze(1)
    loss = -((1 - log_p.exp()).clamp_min(0) ** float(gamma)) * log_p
    if class_weights is None:
        return loss.mean()
    weight = torch.as_tensor(class_weights, dtype=loss.dtype, device=loss.device)[target]
    return (weight * loss).sum() / weight.sum()
