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
"""bootstrap_ci / bootstrap_indices: coverage of the estimate, narrowing with n, seeding, degenerate resamples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from monai_tabular.metrics import bootstrap_ci, bootstrap_indices, classification_metrics, regression_metrics


def _cohort(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return y, p


def _auc(y, s):
    return {"auc": roc_auc_score(y, s)}


def test_ci_contains_estimate_and_keys():
    y, p = _cohort(200)
    ci = bootstrap_ci(y, p, classification_metrics, n_boot=100)
    assert set(ci) == set(classification_metrics(y, p))
    for key, (estimate, low, high) in ci.items():
        assert low <= estimate <= high, key
        assert ci.n_valid[key] == 100
    assert ci["auc"][0] == pytest.approx(roc_auc_score(y, p))
    frame = ci.to_frame()
    assert list(frame.columns) == ["metric", "estimate", "low", "high", "n_valid"] and len(frame) == len(ci)


def test_ci_narrows_with_n():
    widths = []
    for n in (80, 1280):
        y, p = _cohort(n, seed=n)
        _, low, high = bootstrap_ci(y, p, _auc, n_boot=300)["auc"]
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # ~ 1/sqrt(16) = 1/4 expected


def test_seed_determinism():
    y, p = _cohort(100)
    a = bootstrap_ci(y, p, _auc, n_boot=100, seed=3)
    assert a == bootstrap_ci(y, p, _auc, n_boot=100, seed=3)
    assert a != bootstrap_ci(y, p, _auc, n_boot=100, seed=4)
    np.testing.assert_array_equal(bootstrap_indices(y, n_boot=20, seed=1), bootstrap_indices(y, n_boot=20, seed=1))


def test_stratified_indices_keep_class_counts():
    y = np.array([0] * 7 + [1] * 3 + [2] * 2)
    idx = bootstrap_indices(y, n_boot=50, seed=0)
    assert idx.shape == (50, 12)
    counts = np.stack([np.bincount(y[row], minlength=3) for row in idx])
    assert (counts == [7, 3, 2]).all()
    unstratified = bootstrap_indices(y, n_boot=200, seed=0, stratify=False)
    assert len({tuple(np.bincount(y[row], minlength=3)) for row in unstratified}) > 1


def test_indices_in_blocks(monkeypatch):
    import monai_tabular.metrics.bootstrap as bootstrap

    monkeypatch.setattr(bootstrap, "_CHUNK_ELEMENTS", 25)  # 2 resamples of 12 per block
    y = np.array([0] * 7 + [1] * 5)
    idx = bootstrap_indices(y, n_boot=7, seed=0)
    assert idx.shape == (7, 12) and (np.stack([np.bincount(y[r]) for r in idx]) == [7, 5]).all()
    ci = bootstrap_ci(y, np.linspace(0, 1, 12), _auc, n_boot=7)
    assert ci.n_valid["auc"] == 7


def test_degenerate_resamples_are_dropped_not_fatal():
    y = np.array([1] + [0] * 9)
    p = np.linspace(0.9, 0.0, 10)
    with pytest.warns(RuntimeWarning, match="dropped"):
        ci = bootstrap_ci(y, p, classification_metrics, n_boot=200, stratify=False)
    assert 0 < ci.n_valid["auc"] < 200  # ~ (9/10)^10 = 35% of resamples have no positive
    assert ci.n_valid["accuracy"] == 200
    estimate, low, high = ci["auc"]
    assert estimate == 1.0 and low == high == 1.0


def test_all_nan_metric_gives_nan_interval():
    y = np.zeros(6, dtype=int)
    with pytest.warns(RuntimeWarning):
        ci = bootstrap_ci(y, np.linspace(0, 1, 6), classification_metrics, n_boot=20)
    assert math.isnan(ci["auc"][0]) and math.isnan(ci["auc"][1]) and ci.n_valid["auc"] == 0


def test_scalar_metric_and_regression():
    y, p = _cohort(60)
    ci = bootstrap_ci(y, p, roc_auc_score, n_boot=50)
    assert list(ci) == ["value"]
    rng = np.random.default_rng(0)
    target = rng.normal(size=60)
    ci = bootstrap_ci(target, target + rng.normal(scale=0.3, size=60), regression_metrics, n_boot=50)
    assert ci["mae"][1] <= ci["mae"][0] <= ci["mae"][2]


def test_invalid_arguments():
    with pytest.raises(ValueError):
        bootstrap_ci([0, 1], [0.2, 0.3, 0.4], _auc)
    with pytest.raises(ValueError):
        bootstrap_ci([0, 1], [0.2, 0.3], _auc, alpha=1.5)
