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
"""Classification metrics from predicted probabilities, every base metric computed by scikit-learn.

Undefined values are NaN, never an exception, so that bootstrap resamples with a missing class can be dropped.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import sklearn
from scipy.stats import gmean
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import auc as sk_auc
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

from monai_tabular.metrics._common import as_binary_labels, to_numpy

__all__ = ["classification_metrics", "youden_threshold", "CLASSIFICATION_KEYS"]

CLASSIFICATION_KEYS = ("auc", "auprc", "accuracy", "balanced_accuracy", "sensitivity", "specificity", "gmean",
                       "f1_macro", "f1_weighted")


def _prepare(y_true: Any, y_prob: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(y, prob)``: int labels ``(n,)`` and probabilities ``(n, C)``; ``(n,)`` scores become ``[1 - p, p]``."""
    y = to_numpy(y_true).reshape(-1)
    prob = to_numpy(y_prob, dtype=np.float64)
    if prob.ndim == 2 and prob.shape[1] == 1:
        prob = prob[:, 0]
    if prob.ndim == 1:
        prob = np.stack([1.0 - prob, prob], axis=1)
    if prob.ndim != 2 or prob.shape[1] < 2:
        raise ValueError(f"y_prob must have shape (n,) or (n, C) with C >= 2, got {prob.shape}")
    if not np.isfinite(prob).all():  # checked once here: the sklearn calls below run with assume_finite
        raise ValueError("y_prob holds NaN or infinite values")
    if prob.shape[0] != y.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} samples but y_prob has {prob.shape[0]}")
    if y.size and (not np.all(np.mod(y, 1) == 0) or y.min() < 0 or y.max() >= prob.shape[1]):
        raise ValueError(f"y_true must hold class indices 0..{prob.shape[1] - 1}, got {np.unique(y)[:10].tolist()}")
    return y.astype(np.int64), prob


def classification_metrics(y_true: Any, y_prob: Any, *, threshold: float | None = None,
                           class_names: Sequence[str] | None = None) -> dict[str, float]:
    """AUC, AUPRC, accuracy, balanced accuracy, sensitivity, specificity, G-mean and F1 from probabilities.

    Binary (``C == 2`` or ``y_prob`` of shape ``(n,)`` = P(class 1)): the positive class is index 1; a sample is
    predicted positive when ``P(positive) >= threshold`` (default 0.5; the same convention as
    :func:`sklearn.metrics.roc_curve`, so :func:`youden_threshold` can be passed straight in). Multi-class: the
    prediction is the argmax; ``auc`` and ``auprc`` are one-vs-rest macro averages, ``sensitivity`` and
    ``specificity`` are one-vs-rest macro averages, ``gmean`` is the geometric mean of the per-class recalls
    (binary: ``sqrt(sensitivity * specificity)``).

    A metric undefined on the sample is NaN: ``auc``, ``auprc``, ``balanced_accuracy``, ``sensitivity`` (multi-class)
    and ``gmean`` when a class is absent from ``y_true``; a recall or specificity with no sample to divide by.

    Args:
        y_true: class indices ``(n,)`` (int or bool; tensors, Series and lists are accepted).
        y_prob: probabilities ``(n, C)``, rows summing to 1, or ``(n,)`` = P(class 1) for binary.
        threshold: binary decision threshold on P(positive); must be ``None`` for multi-class.
        class_names: if given (one per class), also return ``recall_<name>`` and one-vs-rest ``auc_<name>``.

    Returns:
        ``{key: float}`` with the keys of ``CLASSIFICATION_KEYS`` (plus the per-class keys).

    Example:
        >>> m = classification_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
        >>> m["auc"], m["accuracy"], m["sensitivity"], m["specificity"]
        (0.75, 0.5, 0.5, 0.5)
        >>> classification_metrics([0, 0, 0], [0.1, 0.6, 0.4])["auc"]
        nan
    """
    y, prob = _prepare(y_true, y_prob)
    n_classes = prob.shape[1]
    labels = np.arange(n_classes)
    if n_classes == 2:
        y_pred = (prob[:, 1] >= (0.5 if threshold is None else float(threshold))).astype(np.int64)
    elif threshold is not None:
        raise ValueError("threshold applies to binary problems only; multi-class predictions use the argmax")
    else:
        y_pred = prob.argmax(axis=1)
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"class_names has {len(class_names)} names for {n_classes} classes")
    all_present = bool(np.all(np.bincount(y, minlength=n_classes) > 0))
    nan = float("nan")
    with warnings.catch_warnings(), sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0) in gmean of a zero recall
        # One sklearn call gives every per-class recall and F1 (NaN where 0/0); the averages below are exactly
        # sklearn's: balanced accuracy = mean recall, F1 macro/weighted = mean / support-weighted mean over the
        # classes present in y_true or y_pred (the others have F1 = NaN here).
        _, recalls, f1, support = precision_recall_fscore_support(y, y_pred, labels=labels, average=None,
                                                                  zero_division=np.nan)
        defined = ~np.isnan(f1)
        if n_classes == 2:
            # = roc_auc_score(y, p) (sklearn computes exactly this for binary), without its input checks: 2x faster
            auc = sk_auc(*roc_curve(y, prob[:, 1])[:2]) if all_present else nan
            auprc = average_precision_score(y, prob[:, 1]) if all_present else nan
            sensitivity, specificity = recalls[1], recalls[0]
        else:
            auc = roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=labels) if all_present else nan
            auprc = (average_precision_score(label_binarize(y, classes=labels), prob, average="macro")
                     if all_present else nan)
            mcm = multilabel_confusion_matrix(y, y_pred, labels=labels)  # (C, 2, 2): [[tn, fp], [fn, tp]]
            negatives = mcm[:, 0, 0] + mcm[:, 0, 1]
            specificities = np.divide(mcm[:, 0, 0], negatives, out=np.full(n_classes, np.nan), where=negatives > 0)
            sensitivity, specificity = np.mean(recalls), np.mean(specificities)
        out = {
            "auc": auc,
            "auprc": auprc,
            "accuracy": accuracy_score(y, y_pred) if y.size else nan,
            "balanced_accuracy": np.mean(recalls) if all_present else nan,
            "sensitivity": sensitivity,
            "specificity": specificity,
            "gmean": gmean(recalls),
            "f1_macro": np.mean(f1[defined]) if y.size else nan,
            "f1_weighted": np.average(f1[defined], weights=support[defined]) if y.size else nan,
        }
        for k, name in enumerate(class_names or ()):
            out[f"recall_{name}"] = recalls[k]
            out[f"auc_{name}"] = roc_auc_score(y == k, prob[:, k]) if all_present else nan
    return {key: float(value) for key, value in out.items()}


def youden_threshold(y_true: Any, p_pos: Any) -> float:
    """The threshold on P(positive) that maximises Youden's J = sensitivity + specificity - 1.

    Computed from :func:`sklearn.metrics.roc_curve` over its finite thresholds; predict positive when
    ``p_pos >= threshold`` (as :func:`classification_metrics` does). Choose it on training or validation
    predictions, never on the test set it is then applied to.

    Args:
        y_true: binary labels 0/1 (1 = positive).
        p_pos: P(positive) or any score where larger means positive.

    Example:
        >>> youden_threshold([0, 0, 1, 1], [0.1, 0.3, 0.35, 0.8])
        0.35
    """
    y = as_binary_labels(y_true)
    if np.unique(y).size < 2:
        raise ValueError("youden_threshold needs both classes in y_true")
    fpr, tpr, thresholds = roc_curve(y, to_numpy(p_pos, dtype=np.float64).reshape(-1), drop_intermediate=False)
    finite = np.isfinite(thresholds)
    j = np.where(finite, tpr - fpr, -np.inf)
    return float(thresholds[int(np.argmax(j))])
