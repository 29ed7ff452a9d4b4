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
"""Survival metrics (scikit-survival under the hood): behaviour on known orderings, CIs, curves, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from monai_tabular.metrics.survival import (as_survival_array, evaluation_times, kaplan_meier_by_group,
                                            survival_bootstrap, survival_metrics)


def _cohort(n=120, seed=0):
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    event_time = rng.exponential(1.0 / np.exp(risk))
    censor = rng.exponential(2.0, n)
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), risk


def test_harrell_c_of_a_perfect_and_a_reversed_ranking():
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    event = np.array([1, 1, 0, 1, 1])
    assert survival_metrics(time, event, -time)["cindex"] == 1.0
    assert survival_metrics(time, event, time)["cindex"] == 0.0


def test_informative_risk_beats_noise_on_every_metric():
    time, event, risk = _cohort()
    train_time, train_event, _ = _cohort(seed=1)
    good = survival_metrics(time, event, risk, train_time=train_time, train_event=train_event)
    noise = survival_metrics(time, event, np.random.default_rng(5).normal(size=len(time)), train_time=train_time,
                             train_event=train_event)
    for key in ("cindex", "cindex_uno", "td_auc"):
        assert good[key] > noise[key] and good[key] > 0.6
    assert np.isnan(good["ibs"])  # no survival curves given


def test_integrated_brier_score_prefers_the_true_curves():
    time, event, risk = _cohort(n=200)
    train_time, train_event, _ = _cohort(n=200, seed=1)
    grid = np.linspace(0.05, 1.0, 20)
    true_curves = np.exp(-np.exp(risk)[:, None] * grid[None, :])  # exponential model with hazard exp(risk)
    flat = np.full_like(true_curves, 0.5)
    kwargs = {"train_time": train_time, "train_event": train_event, "curve_times": grid}
    good = survival_metrics(time, event, risk, survival=true_curves, **kwargs)["ibs"]
    bad = survival_metrics(time, event, risk, survival=flat, **kwargs)["ibs"]
    assert 0 < good < bad


def test_bootstrap_interval_brackets_the_estimate():
    time, event, risk = _cohort()
    result = survival_bootstrap(time, event, risk, n_boot=50, train_time=time, train_event=event)
    estimate, low, high = result["cindex"]
    assert low <= estimate <= high and high - low > 0


def test_evaluation_times_stay_inside_follow_up():
    time, event, _ = _cohort()
    grid = evaluation_times(time, event, train_time=time[:50])
    assert grid.size and grid.max() < min(time.max(), time[:50].max())


def test_kaplan_meier_groups_separate_by_risk():
    time, event, risk = _cohort(n=300)
    curves = kaplan_meier_by_group(time, event, risk)
    (t_low, s_low), (t_high, s_high) = curves["low risk"], curves["high risk"]
    at = np.median(time)
    assert s_low[np.searchsorted(t_low, at, side="right") - 1] > s_high[np.searchsorted(t_high, at, side="right") - 1]


def test_bad_survival_values_are_refused():
    with pytest.raises(ValueError, match="0 or 1"):
        as_survival_array([1.0, 2.0], [1, 2])
    with pytest.raises(ValueError, match=">= 0"):
        as_survival_array([-1.0, 2.0], [1, 0])
