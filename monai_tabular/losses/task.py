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
"""The task loss of every model: cross-entropy for classes, mean squared error for a standardised target."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["TaskLoss"]


class TaskLoss(torch.nn.Module):
    """``loss(outputs, batch) -> {"task": value}`` on ``outputs["logits"]`` and ``batch["label"]``.

    Args:
        task: ``"classification"`` (cross-entropy over class logits) or ``"regression"`` (MSE of the single
            output against the standardised target).
        class_weights: per-class weights for cross-entropy (e.g. inverse training frequencies).
        label_smoothing: cross-entropy label smoothing.
        output_key: which network output to score; label_key: which batch entry is the target.
        name: name of the returned term.

    Example:
        >>> loss = TaskLoss()
        >>> loss({"logits": torch.zeros(2, 2)}, {"label": torch.tensor([0, 1])})["task"].item() > 0
        True
    """

    def __init__(self, *, task: str = "classification", class_weights: Sequence[float] | None = None,
                 label_smoothing: float = 0.0, output_key: str = "logits", label_key: str = "label",
                 name: str = "task") -> None:
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        self.task = task
        self.register_buffer("class_weights", None if class_weights is None
                             else torch.as_tensor(class_weights, dtype=torch.float32))
        self.label_smoothing = float(label_smoothing)
        self.output_key, self.label_key, self.name = output_key, label_key, name

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        logits = outputs[self.output_key]
        target = batch[self.label_key]
        if self.task == "classification":
            value = F.cross_entropy(logits.float(), target.long().view(-1), weight=self.class_weights,
                                    label_smoothing=self.label_smoothing)
        else:
            value = F.mse_loss(logits.float().view(-1), target.float().view(-1))
        return {self.name: value}
