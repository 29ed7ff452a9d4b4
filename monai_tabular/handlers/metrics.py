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
"""Ignite metrics over whole-epoch predictions (AUC, balanced accuracy, ...) and a per-subject prediction writer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from ignite.metrics import Metric
from monai.utils import CommonKeys as Keys

from monai_tabular.metrics import classification_metrics, regression_metrics

__all__ = ["EpochMetrics", "PredictionWriter", "scores_from_logits", "key_metric", "all_metrics"]


def scores_from_logits(logits: torch.Tensor, task: str) -> np.ndarray:
    """Class probabilities (softmax) for classification, the raw output for regression."""
    logits = logits.detach().float().cpu()
    if task == "classification":
        return torch.softmax(logits, dim=-1).numpy()
    return logits.view(len(logits), -1)[:, 0].numpy()


class EpochMetrics(Metric):
    """All metrics of :mod:`monai_tabular.metrics` over an epoch's predictions, as one ignite metric.

    ``compute()`` returns a dict (ignite also stores each entry in ``engine.state.metrics``); with ``key`` set,
    it returns that single value, which MONAI uses as ``key_val_metric`` for best-model selection.

    Args:
        task: ``"classification"`` or ``"regression"``.
        key: return only this metric (e.g. ``"auc"``); ``None`` returns the dict.
        label_scale / label_offset: regression outputs are standardised; metrics are reported in the original
            unit ``value * scale + offset``.

    Example:
        >>> metric = EpochMetrics(task="classification", key="auc")
        >>> metric.update((torch.tensor([[0.0, 2.0], [2.0, 0.0]]), torch.tensor([1, 0])))
        >>> metric.compute()
        1.0
    """

    def __init__(self, *, task: str = "classification", key: str | None = None, label_scale: float = 1.0,
                 label_offset: float = 0.0, output_transform: Callable = lambda x: (x[Keys.PRED], x[Keys.LABEL]),
                 device: str | torch.device = "cpu") -> None:
        self.task, self.key = task, key
        self.label_scale, self.label_offset = float(label_scale), float(label_offset)
        super().__init__(output_transform=output_transform, device=device)

    def reset(self) -> None:
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []

    def update(self, output: Any) -> None:
        pred, label = output
        self._scores.append(scores_from_logits(pred, self.task))
        self._labels.append(label.detach().cpu().numpy().reshape(-1))

    def compute(self) -> Any:
        if not self._scores:
            raise RuntimeError("EpochMetrics needs at least one batch before compute()")
        scores, labels = np.concatenate(self._scores), np.concatenate(self._labels)
        if self.task == "classification":
            values = classification_metrics(labels.astype(int), scores)
        else:
            to_unit = lambda v: v * self.label_scale + self.label_offset  # noqa: E731
            values = regression_metrics(to_unit(labels), to_unit(scores))
        values = {k: float(v) for k, v in values.items()}
        if "mae" in values:
            values["neg_mae"] = -values["mae"]  # higher is better, for best-model selection
        return values[self.key] if self.key is not None else values


def key_metric(data: Any) -> dict[str, EpochMetrics]:
    """The ``key_val_metric`` for best-model selection: validation AUC, or negative MAE for regression.

    ``data`` is anything with ``task``, ``label_scale`` and ``label_offset`` (e.g. ``FoldData``).
    """
    if data.task == "classification":
        return {"val_auc": EpochMetrics(task="classification", key="auc")}
    return {"val_neg_mae": EpochMetrics(task="regression", key="neg_mae", label_scale=data.label_scale,
                                        label_offset=data.label_offset)}


def all_metrics(data: Any) -> dict[str, EpochMetrics]:
    """Every metric of the task as one dict-valued ignite metric (each entry lands in ``state.metrics``)."""
    return {"val_all": EpochMetrics(task=data.task, label_scale=data.label_scale, label_offset=data.label_offset)}


class PredictionWriter:
    """Collect per-subject predictions during an evaluator run and write them as CSV at the end.

    Columns: ``subject_id``, ``label`` (when known), ``prob_<class>`` per class and ``pred`` (class name), or
    ``pred`` in the original unit for regression. Refuses to replace an existing file unless ``overwrite``.

    Args:
        output_path: CSV to write.
        task: ``"classification"`` or ``"regression"``.
        class_names: class names in index order (classification).
        label_scale / label_offset: back to the original unit (regression).
        mode: written in a ``mode`` column (``both`` / ``image_only`` / ``table_only``) when given.

    Example:
        >>> PredictionWriter("runs/predictions.csv", class_names=["control", "case"]).attach(evaluator)  # doctest: +SKIP
    """

    def __init__(self, output_path: str | Path, *, task: str = "classification",
                 class_names: Sequence[str] | None = None, label_scale: float = 1.0, label_offset: float = 0.0,
                 mode: str | None = None, overwrite: bool = False) -> None:
        self.output_path = Path(output_path)
        self.task, self.class_names, self.mode = task, list(class_names or []), mode
        self.label_scale, self.label_offset, self.overwrite = float(label_scale), float(label_offset), overwrite
        self.rows: list[dict] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self.start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.COMPLETED, self.write)

    def start(self, engine: Engine | None = None) -> None:
        """Refuse early (before any inference) to replace an existing file; reset the collected rows."""
        if self.output_path.exists() and not self.overwrite:
            raise FileExistsError(f"{self.output_path} exists; set overwrite=True to replace it")
        self.rows.clear()

    def collect(self, engine: Engine) -> None:
        output = engine.state.output
        scores = scores_from_logits(output[Keys.PRED], self.task)
        labels = output.get(Keys.LABEL)
        labels = None if labels is None else labels.detach().cpu().numpy().reshape(-1)
        subjects = output.get("subject_id") or [None] * len(scores)
        for i, subject in enumerate(subjects):
            row: dict[str, Any] = {"subject_id": subject}
            if self.mode is not None:
                row["mode"] = self.mode
            if self.task == "classification":
                names = self.class_names or [str(c) for c in range(scores.shape[1])]
                if labels is not None:
                    row["label"] = names[int(labels[i])]
                for c, name in enumerate(names):
                    row[f"prob_{name}"] = float(scores[i, c])
                row["pred"] = names[int(np.argmax(scores[i]))]
            else:
                if labels is not None:
                    row["label"] = float(labels[i]) * self.label_scale + self.label_offset
                row["pred"] = float(scores[i]) * self.label_scale + self.label_offset
            self.rows.append(row)

    def write(self, engine: Engine | None = None) -> Path:
        import pandas as pd

        if self.output_path.exists() and not self.overwrite:
            raise FileExistsError(f"{self.output_path} exists; set overwrite=True to replace it")
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self.rows).to_csv(self.output_path, index=False)
        return self.output_path
