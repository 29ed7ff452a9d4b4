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
"""scikit-learn rows for every results table: logistic regression (or ridge) on the same table and split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from monai_tabular.data import TableSchema

__all__ = ["table_design_matrix", "sklearn_table_baseline", "SKLEARN_METHODS"]

SKLEARN_METHODS = ("logistic_regression", "gradient_boosting", "mlp")


def table_design_matrix(schema: TableSchema, records: Sequence[dict]) -> np.ndarray:
    """Standardised numerical values, their observed masks, and one-hot categories (missing -> all zero).

    Example:
        >>> X = table_design_matrix(schema, fold.train)   # doctest: +SKIP
    """
    frame = pd.DataFrame([r["table"] for r in records], columns=schema.features)
    arrays = schema.encode_frame(frame)
    blocks = [arrays["numerical"], arrays["numerical_mask"]]
    for i, cardinality in enumerate(schema.cardinalities):
        onehot = np.zeros((len(frame), cardinality), dtype=np.float32)
        observed = arrays["categorical_mask"][:, i] > 0
        onehot[np.flatnonzero(observed), arrays["categorical"][observed, i]] = 1.0
        blocks.append(onehot)
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(frame), 0), dtype=np.float32)


def sklearn_table_baseline(schema: TableSchema, train: Sequence[dict], test: Sequence[dict], *,
                           method: str = "logistic_regression", seed: int = 0) -> pd.DataFrame:
    """Fit a scikit-learn model on the training rows' table and predict the test rows.

    ``method``: ``"logistic_regression"`` (L2, C=1; ridge for regression), ``"gradient_boosting"``
    (``HistGradientBoosting*``) or ``"mlp"`` (``MLP*``, one hidden layer of 64, early stopping). Returns
    predictions in the same format as ``PredictionWriter``: ``subject_id, label, prob_<class>..., pred``
    (regression: ``label, pred`` in the original unit).

    Example:
        >>> predictions = sklearn_table_baseline(fold.schema, fold.train, fold.test)   # doctest: +SKIP
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if method not in SKLEARN_METHODS:
        raise ValueError(f"unknown scikit-learn method {method!r}; known: {list(SKLEARN_METHODS)}")
    mlp = {"hidden_layer_sizes": (64,), "alpha": 1e-3, "early_stopping": True, "max_iter": 1000,
           "random_state": seed}

    x_train, x_test = table_design_matrix(schema, train), table_design_matrix(schema, test)
    label = schema.labels[0]
    y_train = np.array([schema.encode_label(r["label"]) for r in train])
    rows = pd.DataFrame({"subject_id": [r["subject_id"] for r in test]})
    if schema.task == "classification":
        model = (LogisticRegression(C=1.0, max_iter=5000) if method == "logistic_regression"
                 else MLPClassifier(**mlp) if method == "mlp" else HistGradientBoostingClassifier(random_state=seed))
        model.fit(x_train, y_train)
        names = schema.label_classes[label]
        probs = np.zeros((len(test), len(names)))
        probs[:, model.classes_] = model.predict_proba(x_test)
        rows["label"] = [names[schema.encode_label(r["label"])] for r in test]
        for c, name in enumerate(names):
            rows[f"prob_{name}"] = probs[:, c]
        rows["pred"] = [names[i] for i in probs.argmax(1)]
    else:
        model = (Ridge(alpha=1.0) if method == "logistic_regression" else MLPRegressor(**mlp) if method == "mlp"
                 else HistGradientBoostingRegressor(random_state=seed))
        model.fit(x_train, y_train)
        rows["label"] = [float(r["label"]) for r in test]
        rows["pred"] = [schema.decode_label(v) for v in model.predict(x_test)]
    return rows
