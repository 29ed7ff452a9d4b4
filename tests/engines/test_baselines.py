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
"""``sklearn_table_baseline``: per-class probabilities on the same split, better than chance on a table with signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from monai_tabular.engines import prepare_fold
from monai_tabular.engines.baselines import sklearn_table_baseline, table_design_matrix


@pytest.fixture(scope="module")
def cohort120(tmp_path_factory):
    from monai_tabular.data.synthetic import make_synthetic_cohort

    return make_synthetic_cohort(tmp_path_factory.mktemp("engines_cohort120"), n_subjects=120, spatial_dims=2,
                                 image_size=(16, 16), seed=0)


@pytest.fixture(scope="module")
def folds120(cohort120, tmp_path_factory):
    synthetic = {"root": str(cohort120.root), "n_subjects": 120, "spatial_dims": 2, "image_size": [16, 16],
                 "seed": 0}
    base = tmp_path_factory.mktemp("folds120")
    return [prepare_fold(output_dir=base / f"fold{k}", synthetic=synthetic, fold=k, n_folds=5, check_images="none")
            for k in range(5)]


def test_design_matrix_shape(folds120):
    data = folds120[0]
    x = table_design_matrix(data.schema, data.train)
    assert x.shape == (len(data.train), 2 * data.n_numerical + sum(data.cardinalities))
    assert np.isfinite(x).all()


@pytest.mark.parametrize("method", ["logistic_regression", "gradient_boosting"])
def test_probabilities_per_class_sum_to_one(folds120, method):
    data = folds120[0]
    frame = sklearn_table_baseline(data.schema, data.train, data.test, method=method)
    assert list(frame.columns) == ["subject_id", "label", "prob_control", "prob_case", "pred"]
    assert list(frame["subject_id"]) == [r["subject_id"] for r in data.test]
    assert list(frame["label"]) == [r["label"] for r in data.test]
    probs = frame[["prob_control", "prob_case"]].to_numpy()
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    assert list(frame["pred"]) == [("control", "case")[i] for i in probs.argmax(1)]


def test_logistic_regression_beats_chance(folds120):
    frames = [sklearn_table_baseline(d.schema, d.train, d.test) for d in folds120]
    pooled = pd.concat(frames, ignore_index=True)
    assert sorted(pooled["subject_id"]) == [f"sub-{i:04d}" for i in range(120)]  # every subject tested once
    auc = roc_auc_score(pooled["label"] == "case", pooled["prob_case"])
    assert auc > 0.7
    accuracy = float((pooled["pred"] == pooled["label"]).mean())
    majority = max(pooled["label"].value_counts(normalize=True))
    assert accuracy > majority
