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
"""Metrics from predictions: classification and regression metrics, bootstrap CIs, paired tests, result reports.

This layer sees predictions only (numpy arrays, tensors, DataFrames); it never imports ``monai_tabular.data``,
``engines`` or ``networks``.
"""

from __future__ import annotations

from monai_tabular.metrics.bootstrap import BootstrapResult, bootstrap_ci, bootstrap_indices
from monai_tabular.metrics.classification import CLASSIFICATION_KEYS, classification_metrics, youden_threshold
from monai_tabular.metrics.paired import delong_test, paired_bootstrap, wilcoxon_folds
from monai_tabular.metrics.regression import REGRESSION_KEYS, regression_metrics
from monai_tabular.metrics.survival import (SURVIVAL_KEYS, as_survival_array, evaluation_times,
                                            kaplan_meier_by_group, survival_bootstrap, survival_metrics)
from monai_tabular.metrics.report import format_ci, pooled_bootstrap, summarize_folds, write_results

__all__ = ["BootstrapResult", "CLASSIFICATION_KEYS", "REGRESSION_KEYS", "bootstrap_ci", "bootstrap_indices",
           "classification_metrics", "delong_test", "format_ci", "paired_bootstrap", "pooled_bootstrap", "regression_metrics",
           "summarize_folds", "wilcoxon_folds", "write_results", "youden_threshold", "survival_metrics", "survival_bootstrap", "evaluation_times", "as_survival_array", "kaplan_meier_by_group", "SURVIVAL_KEYS"]
