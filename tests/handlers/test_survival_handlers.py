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
"""Survival in the metric and prediction handlers, and the Kaplan-Meier plot of predicted risk groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from monai.utils import CommonKeys as Keys

from monai_tabular.handlers.metrics import EpochMetrics, PredictionWriter, survival_scores
from monai_tabular.handlers.survival import write_risk_group_plot


def _batch(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    risk = torch.randn(n, generator=g)
    time = torch.distributions.Exponential(torch.exp(risk)).sample() + 0.01
    event = (torch.rand(n, generator=g) < 0.7).float()
    return risk, torch.stack([time, event], dim=1)


def test_epoch_metrics_score_cox_risks_and_discrete_time_curves():
    risk, label = _batch()
    metric = EpochMetrics(task="survival", key="cindex")
    metric.update((risk[:, None], label))
    good = metric.compute()
    metric.reset()
    metric.update((-risk[:, None], label))
    assert good > 0.6 and abs(metric.compute() - (1 - good)) < 1e-9
    hazard_logits = risk[:, None].expand(-1, 4) - 1.0  # higher risk -> higher hazard in every interval
    everything = EpochMetrics(task="survival", train_survival={"time": label[:, 0].tolist(),
                                                               "event": label[:, 1].tolist()},
                              time_cuts=[0.0, 0.2, 0.5, 1.0, 5.0])
    everything.update((hazard_logits, label))
    values = everything.compute()
    assert values["cindex"] == good and np.isfinite(values["cindex_uno"]) and np.isfinite(values["ibs"])


def test_prediction_writer_survival_columns(tmp_path):
    risk, label = _batch(n=4)
    logits = torch.zeros(4, 2)
    writer = PredictionWriter(tmp_path / "p.csv", task="survival", time_cuts=[0.0, 1.0, 3.0], mode="both")
    writer.start()

    class State:
        output = {Keys.PRED: logits, Keys.LABEL: label, "subject_id": ["a", "b", "c", "d"]}

    class Engine:
        state = State()

    writer.collect(Engine())
    frame = pd.read_csv(writer.write())
    assert list(frame.columns) == ["subject_id", "mode", "time", "event", "risk", "surv_1", "surv_3"]
    np.testing.assert_allclose(frame[["surv_1", "surv_3"]].to_numpy(), [[0.5, 0.25]] * 4)
    np.testing.assert_allclose(frame["risk"], survival_scores(logits)[0])


def test_risk_group_plot_only_for_survival_predictions(tmp_path):
    risk, label = _batch(n=80)
    frame = pd.DataFrame({"subject_id": range(80), "time": label[:, 0], "event": label[:, 1].int(), "risk": risk})
    frame.to_csv(tmp_path / "predictions_both.csv", index=False)
    png = write_risk_group_plot(tmp_path / "predictions_both.csv")
    assert png.name == "predictions_both_km.png" and png.stat().st_size > 1000
    pd.DataFrame({"subject_id": [1], "label": ["a"], "prob_a": [1.0]}).to_csv(tmp_path / "c.csv", index=False)
    assert write_risk_group_plot(tmp_path / "c.csv") is None
