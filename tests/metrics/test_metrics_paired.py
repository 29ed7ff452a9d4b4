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
"""DeLong against an O(n^2) reference and against the paired bootstrap; Wilcoxon over folds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm, wilcoxon
from sklearn.metrics import roc_auc_score

from monai_tabular.metrics import delong_test, paired_bootstrap, wilcoxon_folds


def _auc(y, s):
    return {"auc": roc_auc_score(y, s)}


def _delong_reference(y, a, b):
    """DeLong et al. (1988) directly: psi kernel over all positive x negative pairs, O(m * n)."""
    y = np.asarray(y)
    comps = []
    for s in (np.asarray(a), np.asarray(b)):
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        comps.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))  # auc, V10 (positives), V01 (negatives)
    m, n = int((y == 1).sum()), int((y == 0).sum())
    s10 = np.cov(np.stack([comps[0][1], comps[1][1]]))
    s01 = np.cov(np.stack([comps[0][2], comps[1][2]]))
    s = s10 / m + s01 / n
    var = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    z = (comps[0][0] - comps[1][0]) / np.sqrt(var)
    return comps[0][0], comps[1][0], var, z, 2 * norm.sf(abs(z))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_quadratic_reference(seed):
    rng = np.random.default_rng(seed)
    n = 40
    y = (rng.random(n) < 0.45).astype(int)
    a = np.round(0.4 * y + rng.random(n), 1)  # rounded: many ties, exercises the midranks
    b = np.round(0.2 * y + rng.random(n), 1)
    r = delong_test(y, a, b)
    auc_a, auc_b, var, z, p = _delong_reference(y, a, b)
    assert r["auc_a"] == pytest.approx(auc_a) and r["auc_a"] == pytest.approx(roc_auc_score(y, a))
    assert r["auc_b"] == pytest.approx(auc_b) and r["auc_b"] == pytest.approx(roc_auc_score(y, b))
    assert r["se"] ** 2 == pytest.approx(var)
    assert r["z"] == pytest.approx(z)
    assert r["p_value"] == pytest.approx(p)


def test_delong_accepts_two_column_probabilities():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30)
    a, b = rng.random(30), rng.random(30)
    two_col = delong_test(y, np.stack([1 - a, a], 1), np.stack([1 - b, b], 1))
    assert two_col == pytest.approx(delong_test(y, a, b))


def _two_methods(n, strength_a, strength_b, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    shared = rng.normal(size=n)  # both methods see the same subjects: correlated scores
    a = strength_a * y + shared + 0.5 * rng.normal(size=n)
    b = strength_b * y + shared + 0.5 * rng.normal(size=n)
    return y, a, b


def test_delong_and_paired_bootstrap_agree_on_clear_difference():
    y, a, b = _two_methods(300, 2.0, 0.5, seed=0)
    d = delong_test(y, a, b)
    pb = paired_bootstrap(y, a, b, _auc, n_boot=400)
    assert d["p_value"] < 0.01 and pb["p_value"] < 0.01
    assert pb["diff"] == pytest.approx(d["diff"])
    assert pb["low"] > 0


def test_delong_and_paired_bootstrap_agree_on_no_difference():
    y, a, b = _two_methods(300, 1.0, 1.0, seed=1)
    d = delong_test(y, a, b)
    pb = paired_bootstrap(y, a, b, _auc, n_boot=400)
    assert d["p_value"] > 0.05 and pb["p_value"] > 0.05
    assert pb["low"] < 0 < pb["high"]


def test_identical_scores():
    y = [0, 0, 1, 1, 0, 1]
    s = [0.1, 0.4, 0.35, 0.8, 0.2, 0.7]
    d = delong_test(y, s, s)
    assert d["diff"] == 0 and d["z"] == 0 and d["p_value"] == 1.0
    pb = paired_bootstrap(y, s, s, _auc, n_boot=50)
    assert pb["diff"] == 0 and pb["p_value"] == 1.0


def test_paired_bootstrap_is_seeded_and_uses_key():
    from monai_tabular.metrics import classification_metrics

    y, a, b = _two_methods(60, 1.0, 0.5, seed=2)
    first = paired_bootstrap(y, a, b, _auc, n_boot=100, seed=5)
    assert first == paired_bootstrap(y, a, b, _auc, n_boot=100, seed=5)
    pa, pb = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    acc = paired_bootstrap(y, pa, pb, classification_metrics, key="accuracy", n_boot=30)
    m_a, m_b = classification_metrics(y, pa), classification_metrics(y, pb)
    assert acc["diff"] == pytest.approx(m_a["accuracy"] - m_b["accuracy"])


def test_delong_needs_both_classes():
    with pytest.raises(ValueError, match="two positives"):
        delong_test([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="0/1"):
        delong_test([0, 2, 0, 2], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])


def test_wilcoxon_folds():
    a = [0.81, 0.84, 0.79, 0.86, 0.83]
    b = [0.78, 0.80, 0.77, 0.84, 0.80]
    r = wilcoxon_folds(a, b)
    assert r["p_value"] == pytest.approx(0.0625)  # the smallest two-sided p with 5 folds
    assert r["p_value"] == pytest.approx(wilcoxon(a, b).pvalue)
    assert r["mean_diff"] == pytest.approx(np.mean(np.subtract(a, b))) and r["n"] == 5
    rng = np.random.default_rng(0)
    better = rng.normal(0.8, 0.02, 10)
    assert wilcoxon_folds(better + 0.03, better)["p_value"] < 0.01
    assert wilcoxon_folds(a, a)["p_value"] == 1.0
    with_nan = wilcoxon_folds(a + [np.nan], b + [0.5])
    assert with_nan["n"] == 5 and with_nan["p_value"] == pytest.approx(r["p_value"])
    with pytest.raises(ValueError):
        wilcoxon_folds(a, b[:4])
