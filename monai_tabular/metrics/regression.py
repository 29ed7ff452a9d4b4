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
"""Regression metrics (MAE, RMSE, R²) computed by scikit-learn."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

from monai_tabular.metrics._common import to_numpy

__all__ = ["regression_metrics", "REGRESSION_KEYS"]

REGRESSION_KEYS = ("mae", "rmse", "r2")


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Mean absolute error, root mean squared error and coefficient of determination.

    Values are in the units of ``y_true`` (de-standardise predictions first). ``r2`` is NaN where it is
    undefined (fewer than two samples, or constant ``y_true``), never sklearn's forced 0 or 1.

    Args:
        y_true: targets ``(n,)`` (or ``(n, k)``: outputs averaged uniformly).
        y_pred: predictions, same shape.

    Example:
        >>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
        {'mae': 0.6666666666666666, 'rmse': 1.1547005383792515, 'r2': -1.0}
    """
    y = to_numpy(y_true, dtype=np.float64)
    p = to_numpy(y_pred, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"y_true {y.shape} and y_pred {p.shape} must have the same shape")
    if y.shape[0] == 0:
        return {key: float("nan") for key in REGRESSION_KEYS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 for a constant target: NaN below
        r2 = r2_score(y, p, force_finite=False) if y.shape[0] > 1 else float("nan")
    return {
        "mae": float(mean_absolute_error(y, p)),
        "rmse": float(root_mean_squared_error(y, p)),
        "r2": float(r2) if np.isfinite(r2) else float("nan"),
    }
