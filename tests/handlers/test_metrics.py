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
"""``EpochMetrics`` against scikit-learn on hand-made logits, and ``PredictionWriter``'s CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from ignite.engine import Engine
from sklearn import metrics as skm

from monai_tabular.handlers import EpochMetrics, PredictionWriter, key_metric, scores_from_logits

BINARY_LOGITS = torch.tensor([[2.0, -1.0], [0.5, 0.2], [-0.3, 0.9], [1.5, 1.4], [-2.0, 1.0], [0.1, 0.4],
                              [0.8, -0.8], [0.0, 2.5]])
BINARY_LABELS = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])


def _engine(batches: list[dict]) -> Engine:
    """An engine whose iteration output is the given dict (``pred``, ``label``, ``subject_id``)."""
    return Engine(lambda engine, batch: batch)


def _softmax(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits, dim=1).numpy()


def test_binary_metrics_match_sklearn():
    metric = EpochMetrics(task="classification")
    metric.reset()
    metric.update((BINARY_LOGITS[:5], BINARY_LABELS[:5]))  # two batches: metrics over the whole epoch
    metric.update((BINARY_LOGITS[5:], BINARY_LABELS[5:]))
    values = metric.compute()
    y, prob = BINARY_LABELS.numpy(), _softmax(BINARY_LOGITS)
    pred = prob.argmax(1)
    assert values["auc"] == pytest.approx(skm.roc_auc_score(y, prob[:, 1]))
    assert values["auprc"] == pytest.approx(skm.average_precision_score(y, prob[:, 1]))
    assert values["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert values["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert values["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert values["specificity"] == pytest.approx(skm.recall_score(1 - y, 1 - pred))
    assert values["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert values["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted"))
    assert 0.0 < values["auc"] < 1.0  # a case where the sklearn comparison means something


def test_multiclass_metrics_match_sklearn():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(30, 3, generator=generator)
    labels = torch.arange(30) % 3
    logits[torch.arange(30), labels] += 0.8  # some signal
    metric = EpochMetrics(task="classification", key="auc")
    metric.reset()
    metric.update((logits, labels))
    prob = _softmax(logits)
    assert metric.compute() == pytest.approx(skm.roc_auc_score(labels.numpy(), prob, multi_class="ovr",
                                                               average="macro"))


def test_metrics_attached_to_an_engine():
    engine = _engine([])
    EpochMetrics(task="classification").attach(engine, "val_all")
    EpochMetrics(task="classification", key="auc").attach(engine, "val_auc")
    data = [{"pred": BINARY_LOGITS[:4], "label": BINARY_LABELS[:4]},
            {"pred": BINARY_LOGITS[4:], "label": BINARY_LABELS[4:]}]
    engine.run(data, max_epochs=1)
    expected = skm.roc_auc_score(BINARY_LABELS.numpy(), _softmax(BINARY_LOGITS)[:, 1])
    assert engine.state.metrics["val_auc"] == pytest.approx(expected)
    assert engine.state.metrics["auc"] == pytest.approx(expected)  # each entry of the dict metric lands here
    assert engine.state.metrics["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(BINARY_LABELS.numpy(), _softmax(BINARY_LOGITS).argmax(1)))


def test_regression_metrics_in_original_unit():
    pred = torch.tensor([[0.0], [1.0], [-1.0], [0.5]])  # standardised outputs (B, 1)
    label = torch.tensor([0.5, 1.0, -2.0, 0.5])
    metric = EpochMetrics(task="regression", label_scale=10.0, label_offset=50.0)
    metric.reset()
    metric.update((pred, label))
    values = metric.compute()
    y = label.numpy() * 10 + 50
    p = pred.numpy()[:, 0] * 10 + 50
    assert values["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert values["mae"] == pytest.approx(10 * float(np.abs(pred.numpy()[:, 0] - label.numpy()).mean()))
    assert values["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert values["r2"] == pytest.approx(skm.r2_score(y, p))
    assert values["neg_mae"] == pytest.approx(-values["mae"])


def test_key_metric_per_task():
    class Data:
        task, label_scale, label_offset = "regression", 2.0, 3.0

    metrics = key_metric(Data())
    assert list(metrics) == ["val_neg_mae"] and metrics["val_neg_mae"].label_scale == 2.0
    Data.task = "classification"
    assert list(key_metric(Data())) == ["val_auc"]


def test_compute_without_batches_is_an_error():
    metric = EpochMetrics()
    metric.reset()
    with pytest.raises(RuntimeError, match="at least one batch"):
        metric.compute()


def test_scores_from_logits():
    np.testing.assert_allclose(scores_from_logits(BINARY_LOGITS, "classification").sum(1), 1.0, rtol=1e-6)
    assert scores_from_logits(torch.tensor([[1.5], [2.0]]), "regression").tolist() == [1.5, 2.0]


# ---------------------------------------------------------------- PredictionWriter


def _write_predictions(path, data, **kwargs) -> Engine:
    engine = _engine([])
    PredictionWriter(path, **kwargs).attach(engine)
    engine.run(data, max_epochs=1)
    return engine


def _binary_batches(with_labels: bool = True) -> list[dict]:
    batches = []
    for start in (0, 4):
        batch = {"pred": BINARY_LOGITS[start:start + 4],
                 "subject_id": [f"sub-{i:04d}" for i in range(start, start + 4)]}
        batch["label"] = BINARY_LABELS[start:start + 4] if with_labels else None
        batches.append(batch)
    return batches


def test_prediction_writer_classification_columns(tmp_path):
    path = tmp_path / "out" / "predictions.csv"
    _write_predictions(path, _binary_batches(), class_names=["control", "case"], mode="image_only")
    frame = pd.read_csv(path, dtype={"subject_id": str})
    assert list(frame.columns) == ["subject_id", "mode", "label", "prob_control", "prob_case", "pred"]
    assert list(frame["subject_id"]) == [f"sub-{i:04d}" for i in range(8)]
    assert (frame["mode"] == "image_only").all()
    assert list(frame["label"]) == [("control", "case")[int(v)] for v in BINARY_LABELS]
    np.testing.assert_allclose(frame[["prob_control", "prob_case"]].to_numpy(), _softmax(BINARY_LOGITS),
                               rtol=1e-6)
    assert list(frame["pred"]) == [("control", "case")[i] for i in _softmax(BINARY_LOGITS).argmax(1)]


def test_prediction_writer_without_labels_and_class_names(tmp_path):
    path = tmp_path / "predictions.csv"
    _write_predictions(path, _binary_batches(with_labels=False))
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["subject_id", "prob_0", "prob_1", "pred"]
    assert len(frame) == 8


def test_prediction_writer_regression_unit(tmp_path):
    path = tmp_path / "predictions.csv"
    data = [{"pred": torch.tensor([[0.0], [1.0]]), "label": torch.tensor([0.5, -1.0]), "subject_id": ["a", "b"]}]
    _write_predictions(path, data, task="regression", label_scale=10.0, label_offset=50.0)
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["subject_id", "label", "pred"]
    assert frame["pred"].tolist() == pytest.approx([50.0, 60.0])
    assert frame["label"].tolist() == pytest.approx([55.0, 40.0])


def test_prediction_writer_refuses_to_overwrite(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("precious\n")
    with pytest.raises(FileExistsError, match="overwrite"):
        _write_predictions(path, _binary_batches())
    assert path.read_text() == "precious\n"
    _write_predictions(path, _binary_batches(), overwrite=True)
    assert len(pd.read_csv(path)) == 8


def test_prediction_writer_clears_rows_between_runs(tmp_path):
    path = tmp_path / "predictions.csv"
    engine = _engine([])
    writer = PredictionWriter(path, overwrite=True)
    writer.attach(engine)
    engine.run(_binary_batches(), max_epochs=1)
    engine.run(_binary_batches(), max_epochs=1)
    assert len(pd.read_csv(path)) == 8
