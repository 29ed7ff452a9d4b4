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
"""Survival metrics from predicted risks (and survival curves), with bootstrap CIs, via scikit-survival.

Harrell's and Uno's C-index, the mean time-dependent (cumulative/dynamic) AUC and the integrated Brier score.
Uno's C, the AUC and the Brier score weight by the censoring distribution, estimated (Kaplan-Meier) on the
training times and events passed as ``train_time``/``train_event``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from monai_tabular.metrics.bootstrap import BootstrapResult, bootstrap_ci

__all__ = ["SURVIVAL_KEYS", "survival_metrics", "survival_bootstrap", "evaluation_times", "as_survival_array",
           "kaplan_meier_by_group"]

SURVIVAL_KEYS = ("cindex", "cindex_uno", "td_auc", "ibs")


def as_survival_array(time: Any, event: Any) -> np.ndarray:
    """scikit-survival's structured array (``event`` bool, ``time`` float) after checking the values.

    Example:
        >>> as_survival_array([2.0, 1.0], [1, 0])["event"].tolist()
        [True, False]
    """
    from sksurv.util import Surv

    time = np.asarray(time, dtype=np.float64).reshape(-1)
    event = np.asarray(event, dtype=np.float64).reshape(-1)
    if time.shape != event.shape:
        raise ValueError(f"time and event need the same length, got {time.shape} and {event.shape}")
    if not np.isfinite(time).all() or (time < 0).any():
        raise ValueError("survival times must be finite and >= 0")
    if not np.isin(event, (0.0, 1.0)).all():
        raise ValueError("events must be 0 or 1")
    return Surv.from_arrays(event=event.astype(bool), time=time)


def evaluation_times(time: Any, event: Any, *, quantiles: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
                     train_time: Any = None) -> np.ndarray:
    """Time points for the AUC and Brier score: quantiles of the event times, kept strictly inside the follow-up
    of the test set (and of the training set when given).

    Example:
        >>> evaluation_times([1, 2, 3, 4, 5], [1, 1, 1, 1, 0], quantiles=(0.5,)).tolist()
        [2.5]
    """
    time, event = np.asarray(time, dtype=np.float64), np.asarray(event, dtype=np.float64)
    events = time[event > 0.5]
    if events.size == 0:
        return np.empty(0)
    points = np.unique(np.quantile(events, quantiles))
    upper = time.max() if train_time is None else min(time.max(), np.asarray(train_time, dtype=np.float64).max())
    return points[(points < upper) & (points >= time.min())]


def _step_survival(survival: np.ndarray, curve_times: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Survival (n, len(times)) read off step curves known at ``curve_times`` (1 before the first point)."""
    index = np.searchsorted(curve_times, times, side="right") - 1
    padded = np.concatenate([np.ones((survival.shape[0], 1)), survival], axis=1)
    return padded[:, index + 1]


def survival_metrics(time: Any, event: Any, risk: Any, *, train_time: Any = None, train_event: Any = None,
                     survival: Any = None, curve_times: Any = None, times: Any = None) -> dict[str, float]:
    """Harrell's C (``cindex``), and with the training times/events Uno's C (``cindex_uno``), the mean
    cumulative/dynamic AUC over ``times`` (``td_auc``) and, with predicted ``survival`` curves (n, K) at
    ``curve_times`` (K,), the integrated Brier score (``ibs``). A metric that is undefined (e.g. no comparable
    pair) is NaN.

    Args:
        time, event: test follow-up times and 1/0 events.
        risk: predicted risk (higher = earlier event).
        train_time, train_event: training data, for the censoring distribution.
        survival, curve_times: predicted survival curves (step functions) and their time points.
        times: evaluation times (default :func:`evaluation_times`).

    Example:
        >>> round(survival_metrics([1, 2, 3, 4], [1, 1, 0, 1], [4, 3, 2, 1])["cindex"], 3)
        1.0
    """
    from sksurv.metrics import (concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc,
                                integrated_brier_score)

    test = as_survival_array(time, event)
    risk = np.asarray(risk, dtype=np.float64).reshape(-1)
    out = {key: float("nan") for key in SURVIVAL_KEYS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out["cindex"] = float(concordance_index_censored(test["event"], test["time"], risk)[0])
        except (ValueError, ZeroDivisionError):
            pass
        if train_time is None or train_event is None:
            return out
        train = as_survival_array(train_time, train_event)
        grid = evaluation_times(test["time"], test["event"], train_time=train["time"]) if times is None \
            else np.asarray(times, dtype=np.float64)
        # the censoring estimate is defined up to the last training time; a later test time is only ever
        # "still at risk" at the evaluation times (all earlier), so clipping it changes no weight that is used
        clipped = test.copy()
        clipped["time"] = np.minimum(test["time"], np.nextafter(train["time"].max(), 0))
        try:
            tau = float(grid.max()) if grid.size else None
            out["cindex_uno"] = float(concordance_index_ipcw(train, test, risk, tau=tau)[0])
        except (ValueError, ZeroDivisionError):
            pass
        if grid.size:
            try:
                out["td_auc"] = float(cumulative_dynamic_auc(train, clipped, risk, grid)[1])
            except (ValueError, ZeroDivisionError):
                pass
            if survival is not None and curve_times is not None and grid.size >= 2:
                curves = _step_survival(np.asarray(survival, dtype=np.float64),
                                        np.asarray(curve_times, dtype=np.float64), grid)
                try:
                    out["ibs"] = float(integrated_brier_score(train, clipped, curves, grid))
                except (ValueError, ZeroDivisionError):
                    pass
    return out


def survival_bootstrap(time: Any, event: Any, risk: Any, *, n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
                       **kwargs: Any) -> BootstrapResult:
    """:func:`survival_metrics` with percentile bootstrap CIs (subjects resampled; evaluation times fixed on the
    full test set so every resample scores the same horizon).

    Example:
        >>> result = survival_bootstrap([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0], [6, 5, 4, 3, 2, 1], n_boot=20)
        >>> result["cindex"][0]
        1.0
    """
    time = np.asarray(time, dtype=np.float64).reshape(-1)
    event = np.asarray(event, dtype=np.float64).reshape(-1)
    risk = np.asarray(risk, dtype=np.float64).reshape(-1)
    if kwargs.get("train_time") is not None and kwargs.get("times") is None:
        kwargs["times"] = evaluation_times(time, event, train_time=kwargs["train_time"])
    survival = kwargs.pop("survival", None)
    columns = [risk[:, None]] + ([np.asarray(survival, dtype=np.float64)] if survival is not None else [])
    scores = np.concatenate(columns, axis=1)

    def metric(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
        return survival_metrics(y[:, 0], y[:, 1], s[:, 0], survival=s[:, 1:] if survival is not None else None,
                                **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return bootstrap_ci(np.stack([time, event], axis=1), scores, metric, n_boot=n_boot, alpha=alpha, seed=seed,
                            stratify=False)


def kaplan_meier_by_group(time: Any, event: Any, risk: Any, *, n_groups: int = 2) -> dict[str, tuple[np.ndarray,
                                                                                                    np.ndarray]]:
    """Kaplan-Meier curves of the risk groups split at the predicted-risk quantiles (low ... high).

    Example:
        >>> curves = kaplan_meier_by_group([1, 2, 3, 4], [1, 1, 1, 1], [4, 3, 2, 1])
        >>> sorted(curves)
        ['high risk', 'low risk']
    """
    from sksurv.nonparametric import kaplan_meier_estimator

    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=np.float64) > 0.5
    risk = np.asarray(risk, dtype=np.float64)
    edges = np.quantile(risk, np.linspace(0, 1, n_groups + 1)[1:-1])
    group = np.searchsorted(edges, risk, side="right")
    names = ["low risk", "high risk"] if n_groups == 2 else [f"risk group {g + 1}" for g in range(n_groups)]
    curves = {}
    for g, name in enumerate(names):
        chosen = group == g
        if chosen.any():
            curves[name] = kaplan_meier_estimator(event[chosen], time[chosen])
    return curves
