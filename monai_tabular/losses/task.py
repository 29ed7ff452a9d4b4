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
"""The task loss of every model: cross-entropy (or focal) for classes, MSE for a standardised target, a survival
loss (Cox partial likelihood or discrete-time logistic hazard) for time-to-event targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from monai_tabular.losses.focal import focal_loss
from monai_tabular.losses.survival import cox_partial_likelihood, logistic_hazard_loss

__all__ = ["TaskLoss", "TASKS", "SURVIVAL_LOSSES"]

TASKS = ("classification", "regression", "survival")
SURVIVAL_LOSSES = ("cox", "logistic_hazard")


class TaskLoss(torch.nn.Module):
    """``loss(outputs, batch) -> {"task": value}`` on ``outputs["logits"]`` and ``batch["label"]``.

    Args:
        task: ``"classification"`` (cross-entropy over class logits), ``"regression"`` (MSE of the single
            output against the standardised target) or ``"survival"`` (``batch["label"]`` is (B, 2): time, event).
        class_weights: per-class weights for cross-entropy (e.g. inverse training frequencies,
            ``FoldData.class_weights``); ``None`` = unweighted.
        label_smoothing: cross-entropy label smoothing.
        focal_gamma: ``> 0`` uses the focal loss with this focusing parameter instead of cross-entropy.
        survival_loss: ``"cox"`` (one risk output; Breslow partial likelihood) or ``"logistic_hazard"`` (one
            hazard logit per interval of ``time_cuts``).
        time_cuts: interval edges of the discrete-time loss (K+1 values for K outputs).
        output_key: which network output to score; label_key: which batch entry is the target.
        name: name of the returned term.

    Example:
        >>> loss = TaskLoss()
        >>> loss({"logits": torch.zeros(2, 2)}, {"label": torch.tensor([0, 1])})["task"].item() > 0
        True
    """

    def __init__(self, *, task: str = "classification", class_weights: Sequence[float] | None = None,
                 label_smoothing: float = 0.0, output_key: str = "logits", label_key: str = "label",
                 name: str = "task", focal_gamma: float = 0.0, survival_loss: str = "cox",
                 time_cuts: Sequence[float] | None = None) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        if survival_loss not in SURVIVAL_LOSSES:
            raise ValueError(f"survival_loss must be one of {list(SURVIVAL_LOSSES)}, got {survival_loss!r}")
        if task == "survival" and survival_loss == "logistic_hazard" and not time_cuts:
            raise ValueError("survival_loss 'logistic_hazard' needs time_cuts (the interval edges)")
        if float(focal_gamma) < 0:
            raise ValueError(f"focal_gamma must be >= 0, got {focal_gamma!r}")
        self.task, self.survival_loss, self.focal_gamma = task, survival_loss, float(focal_gamma)
        self.time_cuts = None if time_cuts is None else [float(c) for c in time_cuts]
        self.register_buffer("class_weights", None if class_weights is None
                             else torch.as_tensor(class_weights, dtype=torch.float32))
        self.label_smoothing = float(label_smoothing)
        self.output_key, self.label_key, self.name = output_key, label_key, name

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        logits = outputs[self.output_key]
        target = batch[self.label_key]
        if self.task == "classification" and self.focal_gamma > 0:
            value = focal_loss(logits, target, gamma=self.focal_gamma, class_weights=self.class_weights)
        elif self.task == "classification":
            value = F.cross_entropy(logits.float(), target.long().view(-1), weight=self.class_weights,
                                    label_smoothing=self.label_smoothing)
        elif self.task == "survival":
            target = target.float().reshape(-1, 2)
            if self.survival_loss == "cox":
                value = cox_partial_likelihood(logits.reshape(-1), target[:, 0], target[:, 1])
            else:
                value = logistic_hazard_loss(logits, target[:, 0], target[:, 1], self.time_cuts)
        else:
            value = F.mse_loss(logits.float().view(-1), target.float().view(-1))
        return {self.name: value}
