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
"""Paired comparisons of two methods on the same subjects or folds: DeLong, paired bootstrap, Wilcoxon.

References:
    DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44(3): 837-845.
    Sun & Xu (2014), "Fast implementation of DeLong's algorithm for comparing the areas under correlated receiver
    operating characteristic curves", IEEE Signal Processing Letters 21(11): 1389-1393.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata, wilcoxon

from monai_tabular.metrics._common import as_binary_labels, to_numpy
from monai_tabular.metrics.bootstrap import iter_bootstrap_indices

__all__ = ["delong_test", "paired_bootstrap", "wilcoxon_folds"]


def _positive_scores(p: Any, n: int) -> np.ndarray:
    p = to_numpy(p, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] in (1, 2):
        p = p[:, -1]
    if p.shape != (n,):
        raise ValueError(f"scores must have shape ({n},) or ({n}, 2) (P(positive) in the last column), got {p.shape}")
    return p


def delong_test(y_true: Any, p_a: Any, p_b: Any) -> dict[str, float]:
    """Two-sided DeLong test of ``AUC(a) == AUC(b)`` for two scores of the same subjects (binary).

    The fast O(n log n) algorithm of Sun & Xu (2014): structural components from midranks (ties count 1/2),
    covariance with ``ddof=1`` as in DeLong et al. (1988), ``z = (auc_a - auc_b) / se``.

    Args:
        y_true: 0/1 labels (1 = positive), at least two of each.
        p_a, p_b: P(positive) (or any score, larger = positive) of methods a and b, shape ``(n,)`` or ``(n, 2)``.

    Returns:
        ``{"auc_a", "auc_b", "diff" (= auc_a - auc_b), "se" (of diff), "z", "p_value"}``.

    Example:
        >>> r = delong_test([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.6, 0.5, 0.8, 0.9], [0.4, 0.2, 0.6, 0.5, 0.3, 0.9])
        >>> round(r["auc_a"], 3), round(r["auc_b"], 3), round(r["p_value"], 3)
        (0.889, 0.667, 0.371)
    """
    y = as_binary_labels(y_true)
    scores = np.stack([_positive_scores(p_a, y.size), _positive_scores(p_b, y.size)])
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least two positives and two negatives, got {m} and {n}")
    tx, ty = rankdata(pos, axis=1), rankdata(neg, axis=1)  # midranks within each class
    tz = rankdata(np.concatenate([pos, neg], axis=1), axis=1)  # midranks over all subjects
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2 * n)
    v10 = (tz[:, :m] - tx) / n  # per positive: share of negatives scored lower (ties 1/2)
    v01 = 1.0 - (tz[:, m:] - ty) / m  # per negative: share of positives scored higher (ties 1/2)
    cov = np.cov(v10) / m + np.cov(v01) / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(aucs[0] - aucs[1])
    se = float(np.sqrt(max(var, 0.0)))
    if se > 1e-12:
        z = diff / se
    else:  # identical rankings (or both perfect): no variance of the difference
        z = 0.0 if abs(diff) < 1e-12 else float(np.copysign(np.inf, diff))
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "diff": diff, "se": se, "z": float(z),
            "p_value": float(2 * norm.sf(abs(z)))}


def _metric_value(out: Any, key: str) -> float:
    return float(out[key]) if isinstance(out, Mapping) else float(out)


def paired_bootstrap(y_true: Any, score_a: Any, score_b: Any, metric_fn: Callable[[np.ndarray, np.ndarray], Any],
                     *, key: str = "auc", n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
                     stratify: bool = True) -> dict[str, float]:
    """Bootstrap of ``metric(a) - metric(b)``: both methods scored on the same resampled subjects.

    The CI is the percentile interval of the resampled differences (NaN ones dropped); the two-sided p-value is
    ``2 * min(P*(d <= 0), P*(d >= 0))`` with the +1 correction ``(count + 1) / (B + 1)``, capped at 1, so it is
    consistent with whether the CI contains 0 and never exactly 0.

    Args:
        y_true: labels or targets ``(n,)``.
        score_a, score_b: predictions of methods a and b for the same subjects, row-aligned.
        metric_fn: ``(y_true, score) -> {key: float}`` (or a float). It runs ``2 * n_boot`` times: prefer a function
            computing only ``key`` (e.g. ``lambda y, s: {"auc": roc_auc_score(y, s)}``) over the full metric set.
        key: which metric to compare.
        n_boot, alpha, seed, stratify: as in :func:`~monai_tabular.metrics.bootstrap_ci`.

    Returns:
        ``{"diff", "low", "high", "p_value", "n_valid"}`` (``diff`` on all subjects).

    Example:
        >>> from sklearn.metrics import roc_auc_score
        >>> auc = lambda y, s: {"auc": roc_auc_score(y, s)}
        >>> y = [0, 0, 0, 1, 1, 1]
        >>> r = paired_bootstrap(y, [0.1, 0.2, 0.6, 0.5, 0.8, 0.9], [0.4, 0.2, 0.6, 0.5, 0.3, 0.9], auc, n_boot=200)
        >>> round(r["diff"], 3), r["low"] <= r["diff"] <= r["high"]
        (0.222, True)
    """
    y, a, b = to_numpy(y_true), to_numpy(score_a), to_numpy(score_b)
    if not (y.shape[0] == a.shape[0] == b.shape[0]):
        raise ValueError(f"y_true, score_a and score_b must have the same rows: {y.shape[0]}, {a.shape[0]}, "
                         f"{b.shape[0]}")
    diff = _metric_value(metric_fn(y, a), key) - _metric_value(metric_fn(y, b), key)
    diffs = np.full(n_boot, np.nan)
    i = 0
    for block in iter_bootstrap_indices(y, n_boot=n_boot, seed=seed, stratify=stratify):
        for rows in block:
            value_a = _metric_value(metric_fn(y[rows], a[rows]), key)
            diffs[i] = value_a - _metric_value(metric_fn(y[rows], b[rows]), key)
            i += 1
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size == 0:
        return {"diff": diff, "low": np.nan, "high": np.nan, "p_value": np.nan, "n_valid": 0}
    low, high = np.percentile(diffs, [50 * alpha, 100 - 50 * alpha])
    below = (np.count_nonzero(diffs <= 0) + 1) / (diffs.size + 1)
    above = (np.count_nonzero(diffs >= 0) + 1) / (diffs.size + 1)
    p_value = min(1.0, 2 * min(below, above))
    return {"diff": float(diff), "low": float(low), "high": float(high), "p_value": float(p_value),
            "n_valid": int(diffs.size)}


def wilcoxon_folds(values_a: Any, values_b: Any) -> dict[str, float]:
    """Two-sided Wilcoxon signed-rank test of per-fold metrics of a vs b, paired by fold (``scipy.stats.wilcoxon``).

    Folds where either value is NaN are left out; zero differences are dropped (``zero_method="wilcox"``). With
    few folds the exact distribution bounds the p-value from below: 5 folds cannot give ``p < 0.0625`` (= 2/2^5),
    10 folds not below 0.002, so "not significant" over 5 folds is weak evidence of no difference. Folds share
    training subjects, so they are not independent and the test is approximate.

    Returns:
        ``{"statistic", "p_value", "mean_diff" (mean of a - b), "n" (folds used)}``.

    Example:
        >>> r = wilcoxon_folds([0.81, 0.84, 0.79, 0.86, 0.83], [0.78, 0.80, 0.77, 0.84, 0.80])
        >>> r["p_value"], round(r["mean_diff"], 3), r["n"]
        (0.0625, 0.028, 5)
    """
    a, b = to_numpy(values_a, dtype=np.float64).reshape(-1), to_numpy(values_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"values_a and values_b must be paired by fold: {a.size} vs {b.size} values")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size == 0:
        raise ValueError("wilcoxon_folds: no fold with both values")
    d = a - b
    if np.all(d == 0):
        return {"statistic": 0.0, "p_value": 1.0, "mean_diff": 0.0, "n": int(a.size)}
    res = wilcoxon(a, b, alternative="two-sided")
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue), "mean_diff": float(d.mean()),
            "n": int(a.size)}
