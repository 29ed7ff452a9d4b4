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
"""Missing modalities, fusion by name and the imbalance options through the baseline bundle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.bundles.bundle_helpers import error_messages, read_json, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


@pytest.fixture(scope="module")
def trained_with_gaps(tmp_path_factory):
    """A 2D fusion run (gated attention, modality dropout per modality, imbalance options) on a CSV where some
    subjects have no image."""
    from monai_tabular.data.synthetic import make_synthetic_cohort

    root = tmp_path_factory.mktemp("missing_modalities")
    cohort = make_synthetic_cohort(root / "cohort", n_subjects=40, spatial_dims=2, image_size=[16, 16])
    frame = pd.read_csv(cohort.csv_path, dtype=str, keep_default_na=False)
    frame.loc[[2, 5, 11, 17, 23, 31], "image"] = ""
    csv = root / "gaps.csv"
    frame.to_csv(csv, index=False)
    overrides = tiny(root, epochs=2, csv=str(csv), spec=cohort.spec, dataset_dir=str(cohort.root),
                     allow_missing_images=True, fusion="gated_attention",
                     modality_dropout={"image": 0.3, "table": 0.1}, class_weights=True, balanced_sampler=True,
                     focal_gamma=2.0)
    run(["train.json"], overrides)
    return root, overrides, frame


def test_empty_image_path_is_refused_without_the_switch(trained_with_gaps, tmp_path):
    _, overrides, _ = trained_with_gaps
    with pytest.raises(Exception) as info:
        run(["train.json"], {**overrides, "bundle_root": str(tmp_path), "allow_missing_images": False})
    assert any("allow_missing_images" in m and "column 'image'" in m for m in error_messages(info.value))


def test_missing_images_train_and_evaluate_with_modality_drop_curve(trained_with_gaps):
    root, overrides, frame = trained_with_gaps
    run_dir = root / "runs" / "fold0"
    network = read_json(run_dir / "network.json")
    assert network["fusion"] == "gated_attention" and network["modality_dropout"] == {"image": 0.3, "table": 0.1}
    aucs = {}
    for tag, extra in {"": {}, "_img100": {"drop_image_fraction": 1.0}, "_tab50": {"drop_table_fraction": 0.5}}.items():
        run(["train.json", "evaluate.json"], {**overrides, "eval_tag": tag, **extra})
        saved = read_json(run_dir / f"metrics_both{tag}.json")
        assert saved["drop_image_fraction"] == extra.get("drop_image_fraction", 0.0)
        aucs[tag] = saved["metrics"]["auc"]
        assert (run_dir / f"predictions_both{tag}.csv").is_file()
    # every image dropped: the fusion model's prediction is its table-only prediction
    run(["train.json", "evaluate.json"], {**overrides, "eval_mode": "table_only"})
    no_images = pd.read_csv(run_dir / "predictions_both_img100.csv")
    table_only = pd.read_csv(run_dir / "predictions_table_only.csv")
    np.testing.assert_allclose(no_images["prob_case"], table_only["prob_case"], rtol=1e-4, atol=1e-6)
    assert all(np.isfinite(list(aucs.values())))


def test_youden_threshold_is_chosen_on_validation_and_recorded(trained_with_gaps):
    root, overrides, _ = trained_with_gaps
    for tag, extra in {"_half": {}, "_youden": {"youden_threshold": True}}.items():
        run(["train.json", "evaluate.json"], {**overrides, "eval_tag": tag, **extra})
    half = read_json(root / "runs" / "fold0" / "metrics_both_half.json")
    youden = read_json(root / "runs" / "fold0" / "metrics_both_youden.json")
    assert half["threshold"] is None and 0.0 <= youden["threshold"] <= 1.0
    assert youden["metrics"]["auc"] == pytest.approx(half["metrics"]["auc"])  # ranking metrics do not change


@pytest.mark.parametrize("fusion", ["late_average", "daft", "cross_attention"])
def test_fusion_chosen_by_name_in_the_bundle(tmp_path, fusion):
    extra = {"fusion_args": {"d_model": 16, "num_heads": 2}} if fusion == "cross_attention" else {}
    overrides = tiny(tmp_path, epochs=1, fusion=fusion, **extra)
    run(["train.json"], overrides)
    assert read_json(tmp_path / "runs" / "fold0" / "network.json")["fusion"] == fusion
    assert (tmp_path / "runs" / "fold0" / "model.pt").is_file()


def test_unknown_fusion_name_lists_the_registered_ones(tmp_path):
    with pytest.raises(Exception) as info:
        run(["train.json"], tiny(tmp_path, epochs=1, fusion="fancy"))
    assert any("known fusions" in m and "gated_attention" in m for m in error_messages(info.value))
