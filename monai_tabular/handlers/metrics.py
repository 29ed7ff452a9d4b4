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

__all__ = ["EpochMetrics", "PredictionWriter", "scores_from_logits", "survival_scores", "key_metric", "all_metrics"]


def survival_scores(logits: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(risk, survival curves or None)`` from survival outputs: one column is a Cox log-hazard ratio (the risk);
    K columns are discrete-time hazard logits, whose survival curve (B, K) gives the risk ``-sum_k S(t_k)``
    (minus the expected number of intervals survived).

    Example:
        >>> risk, curves = survival_scores(torch.zeros(1, 2))
        >>> risk.tolist(), curves.tolist()
        ([-0.75], [[0.5, 0.25]])
    """
    logits = torch.as_tensor(logits).detach().float().cpu()
    logits = logits.reshape(len(logits), -1)
    if logits.shape[1] == 1:
        return logits[:, 0].numpy(), None
    curves = torch.cumprod(torch.sigmoid(-logits), dim=1).numpy()
    return -curves.sum(1), curves


def scores_from_logits(logits: torch.Tensor, task: str) -> np.ndarray:
    """Class probabilities (softmax) for classification, the raw output for regression, the risk (higher =
    earlier event) for survival."""
    logits = logits.detach().float().cpu()
    if task == "classification":
        return torch.softmax(logits, dim=-1).numpy()
    if task == "survival":
        return survival_scores(logits)[0]
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
                 device: str | torch.device = "cpu", threshold: float | None = None,
                 train_survival: dict | None = None, time_cuts: Sequence[float] | None = None) -> None:
        self.task, self.key, self.threshold = task, key, threshold
        self.train_survival, self.time_cuts = train_survival, time_cuts
        self.label_scale, self.label_offset = float(label_scale), float(label_offset)
        super().__init__(output_transform=output_transform, device=device)

    def reset(self) -> None:
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []

    def update(self, output: Any) -> None:
        pred, label = output
        if self.task == "survival":
            risk, curves = survival_scores(pred)
            self._scores.append(risk[:, None] if curves is None else np.concatenate([risk[:, None], curves], 1))
            self._labels.append(label.detach().cpu().numpy().reshape(-1, 2))
            return
        self._scores.append(scores_from_logits(pred, self.task))
        self._labels.append(label.detach().cpu().numpy().reshape(-1))

    def compute(self) -> Any:
        if not self._scores:
            raise RuntimeError("EpochMetrics needs at least one batch before compute()")
        scores, labels = np.concatenate(self._scores), np.concatenate(self._labels)
        if self.task == "classification":
            values = classification_metrics(labels.astype(int), scores, threshold=self.threshold)
        elif self.task == "survival":
            from monai_tabular.metrics.survival import survival_metrics

            train = self.train_survival or {}
            curves = scores[:, 1:] if scores.shape[1] > 1 else None
            values = survival_metrics(labels[:, 0], labels[:, 1], scores[:, 0], train_time=train.get("time"),
                                      train_event=train.get("event"), survival=curves,
                                      curve_times=None if curves is None or not self.time_cuts
                                      else list(self.time_cuts)[1:])
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
    if data.task == "survival":
        return {"val_cindex": EpochMetrics(task="survival", key="cindex")}
    return {"val_neg_mae": EpochMetrics(task="regression", key="neg_mae", label_scale=data.label_scale,
                                        label_offset=data.label_offset)}


def all_metrics(data: Any, *, threshold: float | None = None) -> dict[str, EpochMetrics]:
    """Every metric of the task as one dict-valued ignite metric (each entry lands in ``state.metrics``).

    ``threshold``: decision threshold on P(positive) for the thresholded binary metrics (e.g. the Youden
    threshold chosen on validation data); survival metrics use ``data.train_survival`` and ``data.time_cuts``.
    """
    survival = data.task == "survival"
    return {"val_all": EpochMetrics(task=data.task, label_scale=data.label_scale, label_offset=data.label_offset,
                                    threshold=threshold,
                                    train_survival=getattr(data, "train_survival", None) if survival else None,
                                    time_cuts=getattr(data, "time_cuts", None) if survival else None)}


class PredictionWriter:
    """Collect per-subject predictions during an evaluator run and write them as CSV at the end.

    Columns: ``subject_id``, ``label`` (when known), ``prob_<class>`` per class and ``pred`` (class name), or
    ``pred`` in the original unit for regression, or (survival) ``time``/``event`` when known, ``risk`` and, for
    discrete-time models, ``surv_<t>``: the predicted survival probability at the end of each interval.
    Refuses to replace an existing file unless ``overwrite``.

    Args:
        output_path: CSV to write.
        task: ``"classification"`` or ``"regression"``.
        class_names: class names in index order (classification).
        label_scale / label_offset: back to the original unit (regression).
        mode: written in a ``mode`` column (``both`` / ``image_only`` / ``table_only``) when given.
        time_cuts: interval edges of a discrete-time survival model (names the ``surv_<t>`` columns).

    Example:
        >>> PredictionWriter("runs/predictions.csv", class_names=["control", "case"]).attach(evaluator)  # doctest: +SKIP
    """

    def __init__(self, output_path: str | Path, *, task: str = "classification",
                 class_names: Sequence[str] | None = None, label_scale: float = 1.0, label_offset: float = 0.0,
                 mode: str | None = None, overwrite: bool = False, time_cuts: Sequence[float] | None = None) -> None:
        self.output_path = Path(output_path)
        self.time_cuts = None if time_cuts is None else [float(c) for c in time_cuts]
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

    def _survival_rows(self, output: dict) -> list[dict]:
        risk, curves = survival_scores(output[Keys.PRED])
        labels = output.get(Keys.LABEL)
        labels = None if labels is None else labels.detach().cpu().numpy().reshape(-1, 2)
        ends = self.time_cuts[1:] if self.time_cuts else None
        rows = []
        for i, subject in enumerate(output.get("subject_id") or [None] * len(risk)):
            row: dict[str, Any] = {"subject_id": subject}
            if self.mode is not None:
                row["mode"] = self.mode
            if labels is not None:
                row["time"], row["event"] = float(labels[i, 0]), int(labels[i, 1])
            row["risk"] = float(risk[i])
            if curves is not None:
                names = [f"{t:.4g}" for t in ends] if ends and len(ends) == curves.shape[1] else \
                    [str(k) for k in range(curves.shape[1])]
                row.update({f"surv_{name}": float(v) for name, v in zip(names, curves[i])})
            rows.append(row)
        return rows

    def collect(self, engine: Engine) -> None:
        output = engine.state.output
        if self.task == "survival":
            self.rows.extend(self._survival_rows(output))
            return
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
