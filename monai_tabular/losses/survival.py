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
"""Survival losses over a batch: Cox partial likelihood (Breslow ties) and discrete-time logistic hazard.

Both take ``time`` (B,) and ``event`` (B,) 1/0 tensors; they see tensors only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["cox_partial_likelihood", "logistic_hazard_loss", "discretize_times", "survival_from_hazard_logits"]


def cox_partial_likelihood(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """Negative Cox partial log-likelihood with Breslow's handling of ties, averaged over the events.

    ``-(1/E) sum_{i: event} [risk_i - log sum_{j: time_j >= time_i} exp(risk_j)]``. One sort and a cumulative
    log-sum-exp over the times in decreasing order: O(n log n) time and O(n) memory, never an n x n risk-set
    matrix. Tied times share the risk set of the whole tie group (Breslow). A batch without events gives 0
    (with a gradient of zeros), so a mini-batch of censored subjects does not break training.

    Args:
        risk: (B,) or (B, 1) log-hazard ratios (higher = earlier event).
        time: (B,) follow-up times.
        event: (B,) 1 = event observed, 0 = censored.

    Example:
        >>> risk = torch.tensor([2.0, 1.0, 0.0])
        >>> time, event = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 1.0, 0.0])
        >>> bool(cox_partial_likelihood(risk, time, event) < cox_partial_likelihood(-risk, time, event))
        True
    """
    risk = risk.float().reshape(-1)
    time = time.to(risk.device).float().reshape(-1)
    event = event.to(risk.device).float().reshape(-1)
    if not (risk.shape == time.shape == event.shape):
        raise ValueError(f"risk, time and event need one value per subject, got shapes {tuple(risk.shape)}, "
                         f"{tuple(time.shape)}, {tuple(event.shape)}")
    n_events = event.sum()
    if float(n_events) == 0:
        return risk.sum() * 0.0
    order = torch.argsort(time, descending=True)
    time_sorted, risk_sorted, event_sorted = time[order], risk[order], event[order]
    log_cumulative = torch.logcumsumexp(risk_sorted, dim=0)
    # Breslow: every member of a tie group uses the risk set that includes the whole group
    _, counts = torch.unique_consecutive(time_sorted, return_counts=True)
    group_end = torch.repeat_interleave(torch.cumsum(counts, 0) - 1, counts)
    log_risk_set = log_cumulative[group_end]
    return -((risk_sorted - log_risk_set) * event_sorted).sum() / n_events


def discretize_times(time: torch.Tensor, cuts: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Interval index (B,) long of each time for the bin edges ``cuts`` (K+1 increasing values, K intervals).

    Interval k is ``(cuts[k], cuts[k+1]]``; times at or below ``cuts[1]`` fall in interval 0, times above the
    last cut in the last interval.

    Example:
        >>> discretize_times(torch.tensor([0.5, 1.0, 1.5, 9.0]), [0.0, 1.0, 2.0, 3.0]).tolist()
        [0, 0, 1, 2]
    """
    cuts = torch.as_tensor(cuts, dtype=torch.float32, device=time.device)
    if cuts.ndim != 1 or cuts.numel() < 2 or bool((cuts[1:] <= cuts[:-1]).any()):
        raise ValueError(f"cuts must be at least 2 increasing values, got {cuts.tolist()}")
    inner = cuts[1:-1].contiguous()
    return torch.searchsorted(inner, time.float().reshape(-1).contiguous(), right=False).clamp(0, cuts.numel() - 2)


def logistic_hazard_loss(logits: torch.Tensor, time: torch.Tensor, event: torch.Tensor,
                         cuts: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Discrete-time survival (logistic hazard; Gensheimer & Narasimhan 2019, Kvamme & Borgan 2021) loss.

    ``logits`` (B, K) are the hazard logits of the K intervals given by ``cuts``. A subject whose time falls in
    interval k contributes ``BCE(logit_j, 0)`` for every j < k (it survived them) and ``BCE(logit_k, event)``;
    later intervals are not observed. The sum is averaged over subjects.

    Example:
        >>> logits = torch.zeros(2, 3)
        >>> loss = logistic_hazard_loss(logits, torch.tensor([0.5, 2.5]), torch.tensor([1.0, 0.0]), [0, 1, 2, 3])
        >>> round(float(loss), 4)  # (1 + 3) log 2 / 2 subjects
        1.3863
    """
    if logits.ndim != 2:
        raise ValueError(f"logistic_hazard_loss needs (B, K) hazard logits, got shape {tuple(logits.shape)}")
    n_bins = logits.shape[1]
    cuts = torch.as_tensor(cuts, dtype=torch.float32)
    if cuts.numel() != n_bins + 1:
        raise ValueError(f"{n_bins} hazard logits need {n_bins + 1} cuts, got {cuts.numel()}")
    interval = discretize_times(time.to(logits.device), cuts.to(logits.device))
    event = event.to(logits.device).float().reshape(-1)
    steps = torch.arange(n_bins, device=logits.device)[None, :]
    target = (steps == interval[:, None]).float() * event[:, None]
    observed = (steps <= interval[:, None]).float()
    bce = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
    return (bce * observed).sum(1).mean()


def survival_from_hazard_logits(logits: torch.Tensor) -> torch.Tensor:
    """Survival curve S(t_k) = prod_{j <= k} (1 - sigmoid(logit_j)), (B, K), at the end of each interval.

    Example:
        >>> survival_from_hazard_logits(torch.zeros(1, 2)).tolist()
        [[0.5, 0.25]]
    """
    return torch.cumprod(torch.sigmoid(-logits.float()), dim=1)
