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
"""classification_metrics / youden_threshold against scikit-learn and hand-computed confusion matrices."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

from monai_tabular.metrics import CLASSIFICATION_KEYS, classification_metrics, youden_threshold


@pytest.fixture()
def binary():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.35 * y + 0.65 * rng.random(200), 0, 1)
    return y, p


@pytest.fixture()
def multiclass():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 150)
    logits = rng.normal(size=(150, 3)) + 1.5 * np.eye(3)[y]
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, prob


def test_binary_matches_sklearn(binary):
    y, p = binary
    m = classification_metrics(y, p)
    pred = (p >= 0.5).astype(int)
    assert set(m) == set(CLASSIFICATION_KEYS)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["auprc"] == pytest.approx(average_precision_score(y, p))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["sensitivity"] == pytest.approx(recall_score(y, pred, pos_label=1))
    assert m["specificity"] == pytest.approx(recall_score(y, pred, pos_label=0))
    assert m["gmean"] == pytest.approx(math.sqrt(m["sensitivity"] * m["specificity"]))
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["f1_weighted"] == pytest.approx(f1_score(y, pred, average="weighted"))


def test_binary_input_forms_agree(binary):
    y, p = binary
    reference = classification_metrics(y, p)
    assert classification_metrics(y, np.stack([1 - p, p], axis=1)) == pytest.approx(reference)
    assert classification_metrics(torch.from_numpy(y), torch.from_numpy(p).float()) == pytest.approx(reference)
    assert classification_metrics(list(y.astype(bool)), p[:, None]) == pytest.approx(reference)


def test_threshold_moves_the_decision(binary):
    y, p = binary
    m = classification_metrics(y, p, threshold=0.3)
    pred = (p >= 0.3).astype(int)
    assert m["sensitivity"] == pytest.approx(recall_score(y, pred))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["auc"] == classification_metrics(y, p)["auc"]  # threshold-free


def test_multiclass_matches_sklearn(multiclass):
    y, prob = multiclass
    m = classification_metrics(y, prob, class_names=["a", "b", "c"])
    pred = prob.argmax(1)
    assert m["auc"] == pytest.approx(roc_auc_score(y, prob, multi_class="ovr", average="macro"))
    assert m["auprc"] == pytest.approx(average_precision_score(label_binarize(y, classes=[0, 1, 2]), prob))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["sensitivity"] == pytest.approx(recall_score(y, pred, average="macro"))
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["f1_weighted"] == pytest.approx(f1_score(y, pred, average="weighted"))
    recalls = recall_score(y, pred, average=None)
    assert m["gmean"] == pytest.approx(np.prod(recalls) ** (1 / 3))
    cm = confusion_matrix(y, pred)
    spec = [(cm.sum() - cm[k].sum() - cm[:, k].sum() + cm[k, k]) / (cm.sum() - cm[k].sum()) for k in range(3)]
    assert m["specificity"] == pytest.approx(np.mean(spec))
    for k, name in enumerate("abc"):
        assert m[f"recall_{name}"] == pytest.approx(recalls[k])
        assert m[f"auc_{name}"] == pytest.approx(roc_auc_score(y == k, prob[:, k]))


def test_sensitivity_specificity_gmean_by_hand():
    # TP=3, FN=1 (positives 0..3), TN=4, FP=2 (negatives 4..9)
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.7, 0.2, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7]
    m = classification_metrics(y, p)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(4 / 6)
    assert m["gmean"] == pytest.approx(math.sqrt(3 / 4 * 4 / 6))
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 4 / 6) / 2)
    f1_pos, f1_neg = 2 * 3 / (2 * 3 + 2 + 1), 2 * 4 / (2 * 4 + 1 + 2)
    assert m["f1_macro"] == pytest.approx((f1_pos + f1_neg) / 2)
    assert m["f1_weighted"] == pytest.approx((4 * f1_pos + 6 * f1_neg) / 10)


def test_multiclass_by_hand():
    # confusion rows (true) x cols (pred): [[2, 0, 0], [1, 1, 0], [0, 1, 3]]
    y = [0, 0, 1, 1, 2, 2, 2, 2]
    pred = [0, 0, 0, 1, 1, 2, 2, 2]
    prob = np.full((8, 3), 0.1)
    prob[np.arange(8), pred] = 0.8
    m = classification_metrics(y, prob)
    recalls = [1.0, 0.5, 0.75]
    spec = [5 / 6, 5 / 6, 4 / 4]  # class k: TN / (TN + FP) among the samples not of class k
    assert m["sensitivity"] == pytest.approx(np.mean(recalls))
    assert m["specificity"] == pytest.approx(np.mean(spec))
    assert m["gmean"] == pytest.approx((1.0 * 0.5 * 0.75) ** (1 / 3))
    assert m["accuracy"] == pytest.approx(6 / 8)


def test_degenerate_samples_give_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        only_negatives = classification_metrics([0, 0, 0], [0.1, 0.7, 0.3])
        missing_class = classification_metrics([0, 0, 1, 1], np.full((4, 3), 1 / 3))
    for key in ("auc", "auprc", "balanced_accuracy", "sensitivity", "gmean"):
        assert math.isnan(only_negatives[key]), key
        assert math.isnan(missing_class[key]), key
    assert only_negatives["specificity"] == pytest.approx(2 / 3)
    assert only_negatives["accuracy"] == pytest.approx(2 / 3)
    assert not math.isnan(missing_class["accuracy"])


def test_invalid_inputs():
    with pytest.raises(ValueError, match="threshold"):
        classification_metrics([0, 1, 2], np.eye(3), threshold=0.5)
    with pytest.raises(ValueError, match="class indices"):
        classification_metrics([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="samples"):
        classification_metrics([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        classification_metrics([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="class_names"):
        classification_metrics([0, 1], [0.1, 0.9], class_names=["a"])


def test_youden_threshold(binary):
    y, p = binary
    t = youden_threshold(y, p)
    fpr, tpr, thresholds = roc_curve(y, p)
    best = max(((tp - fp), th) for fp, tp, th in zip(fpr, tpr, thresholds) if np.isfinite(th))
    m = classification_metrics(y, p, threshold=t)
    assert m["sensitivity"] + m["specificity"] - 1 == pytest.approx(best[0])
    assert youden_threshold([0, 0, 1, 1], [0.1, 0.3, 0.35, 0.8]) == 0.35
    with pytest.raises(ValueError):
        youden_threshold([1, 1], [0.2, 0.3])
