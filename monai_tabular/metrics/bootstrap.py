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
"""Percentile bootstrap confidence intervals over subjects, with vectorised (optionally stratified) resampling."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

from monai_tabular.metrics._common import to_numpy

__all__ = ["bootstrap_ci", "bootstrap_indices", "BootstrapResult"]

_CHUNK_ELEMENTS = 1 << 23  # indices drawn per block (64 MiB of int64), whatever n_boot * n is


class BootstrapResult(dict):
    """``{metric: (estimate, low, high)}`` plus ``n_valid`` (``{metric: resamples kept}``), ``n_boot`` and ``alpha``."""

    def __init__(self, values: Mapping[str, tuple[float, float, float]], *, n_valid: Mapping[str, int],
                 n_boot: int, alpha: float) -> None:
        super().__init__(values)
        self.n_valid = dict(n_valid)
        self.n_boot = n_boot
        self.alpha = alpha

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: ``metric, estimate, low, high, n_valid``."""
        return pd.DataFrame([(k, *v, self.n_valid[k]) for k, v in self.items()],
                            columns=["metric", "estimate", "low", "high", "n_valid"])


def _is_classification(y: np.ndarray) -> bool:
    return y.ndim == 1 and type_of_target(y) in ("binary", "multiclass")


def iter_bootstrap_indices(y_true: Any, *, n_boot: int, seed: int, stratify: bool) -> Iterator[np.ndarray]:
    """Blocks of resample indices ``(rows, n)``; their concatenation is :func:`bootstrap_indices`."""
    y = to_numpy(y_true)
    n = y.shape[0]
    if n == 0 or n_boot < 1:
        raise ValueError(f"need at least one sample and one resample, got n={n}, n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    strata = None
    if stratify and _is_classification(y):
        _, inverse = np.unique(y, return_inverse=True)
        strata = [np.flatnonzero(inverse == c) for c in range(inverse.max() + 1)]
    block = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_boot, block):
        rows = min(block, n_boot - start)
        if strata is None:
            yield rng.integers(0, n, size=(rows, n))
        else:
            yield np.concatenate([m[rng.integers(0, m.size, size=(rows, m.size))] for m in strata], axis=1)


def bootstrap_indices(y_true: Any, *, n_boot: int = 1000, seed: int = 0, stratify: bool = True) -> np.ndarray:
    """Subject indices of ``n_boot`` resamples with replacement, shape ``(n_boot, n)``.

    With ``stratify`` and class labels (binary or multi-class, per :func:`sklearn.utils.multiclass.type_of_target`),
    each class is resampled within itself, so every resample keeps the class counts of ``y_true``. Continuous
    targets are resampled as a whole; pass ``stratify=False`` for integer-valued regression targets.

    Example:
        >>> idx = bootstrap_indices([0, 0, 0, 1], n_boot=5, seed=0)
        >>> idx.shape, bool((idx[:, -1] == 3).all())
        ((5, 4), True)
    """
    return np.concatenate(list(iter_bootstrap_indices(y_true, n_boot=n_boot, seed=seed, stratify=stratify)))


def as_metric_dict(value: Any) -> dict[str, float]:
    """A metric function's output as ``{key: float}``; a bare number becomes ``{"value": number}``."""
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items()}
    return {"value": float(value)}


def bootstrap_ci(y_true: Any, y_score: Any, metric_fn: Callable[[np.ndarray, np.ndarray], Any], *,
                 n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, stratify: bool = True) -> BootstrapResult:
    """Point estimate and percentile bootstrap CI of every metric ``metric_fn`` returns.

    Subjects (rows) are resampled with replacement, by class when ``stratify`` and ``y_true`` holds class labels;
    ``metric_fn`` runs once per resample on numpy arrays. Resamples where a metric is NaN (undefined, e.g. AUC with
    one class) are dropped for that metric: ``result.n_valid`` counts the kept ones and a ``RuntimeWarning``
    says how many were dropped. The interval is the ``alpha/2`` and ``1 - alpha/2`` percentiles of the kept values.

    Args:
        y_true: labels or targets ``(n,)``.
        y_score: predictions ``(n,)`` or ``(n, C)``, row-aligned with ``y_true``.
        metric_fn: ``(y_true, y_score) -> {key: float}`` (or a float, reported as ``"value"``), e.g.
            :func:`~monai_tabular.metrics.classification_metrics`.
        n_boot: number of resamples.
        alpha: 1 - confidence level.
        seed: seed of the resampling; same seed, same intervals.
        stratify: resample within each class (classification targets only).

    Returns:
        :class:`BootstrapResult`: ``{key: (estimate on all data, low, high)}``.

    Example:
        >>> from monai_tabular.metrics import classification_metrics
        >>> ci = bootstrap_ci([0, 0, 1, 1, 0, 1], [0.2, 0.4, 0.7, 0.3, 0.1, 0.9], classification_metrics, n_boot=200)
        >>> round(ci["auc"][0], 3), ci["auc"][1] <= ci["auc"][0] <= ci["auc"][2], ci.n_valid["auc"]
        (0.889, True, 200)
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    y, score = to_numpy(y_true), to_numpy(y_score)
    if y.shape[0] != score.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} rows but y_score has {score.shape[0]}")
    point = as_metric_dict(metric_fn(y, score))
    keys = list(point)
    values = np.full((n_boot, len(keys)), np.nan)
    b = 0
    for block in iter_bootstrap_indices(y, n_boot=n_boot, seed=seed, stratify=stratify):
        for rows in block:
            out = as_metric_dict(metric_fn(y[rows], score[rows]))
            values[b] = [out.get(k, np.nan) for k in keys]
            b += 1
    result, n_valid = {}, {}
    for j, key in enumerate(keys):
        kept = values[~np.isnan(values[:, j]), j]
        n_valid[key] = int(kept.size)
        low, high = np.percentile(kept, [50 * alpha, 100 - 50 * alpha]) if kept.size else (np.nan, np.nan)
        result[key] = (point[key], float(low), float(high))
    dropped = {k: n_boot - v for k, v in n_valid.items() if v < n_boot}
    if dropped:
        warnings.warn(f"bootstrap_ci: dropped resamples where the metric is undefined (NaN), out of {n_boot}: "
                      f"{dropped}", RuntimeWarning, stacklevel=2)
    return BootstrapResult(result, n_valid=n_valid, n_boot=n_boot, alpha=alpha)
