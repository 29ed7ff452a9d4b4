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
"""Explanation reports on tiny trained 2D and 3D runs, and the attribution methods' defining properties."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from monai_tabular.engines.explain import (EXTRAS_DIR, explain_run, find_target_layer, integrated_gradients_numerical,
                                           missing_attribute_effect, write_explanation_report)
from monai_tabular.networks import create_classifier
from tests.bundles.bundle_helpers import read_json, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")

FAST = {"n_subjects": 1, "n_repeats": 1, "n_cohort_maps": 2, "ig_steps": 8}


@pytest.fixture(scope="module", params=[2, 3], ids=["2d", "3d"])
def trained(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"explain_{request.param}d")
    run(["train.json"], tiny(root, spatial_dims=request.param, epochs=1))
    return {"run_dir": root / "runs" / "fold0", "spatial_dims": request.param}


def _check_report(report, spatial_dims: int) -> dict:
    assert report.is_file()
    text = report.read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert figures, "the report shows no figure"
    for figure in figures:
        assert (report.parent / figure).is_file(), f"{figure} is referenced but missing"
    result = json.loads((report.parent / "explanations.json").read_text())
    subject = next(iter(result["subjects"].values()))
    assert subject["gradcam_shape"] == subject["occlusion_shape"] == subject["image_shape"] == [16] * spatial_dims
    return result


def test_report_of_a_trained_run(trained):
    run_dir, dims = trained["run_dir"], trained["spatial_dims"]
    report = explain_run(run_dir=run_dir, **FAST)
    assert report == run_dir / "explain_both" / "report.md"
    result = _check_report(report, dims)
    split = read_json(run_dir / "split.json")
    names = ["age", "biomarker", "sex", "site", "smoker"]
    assert set(result["cohort"]["permutation_importance"]["importances"]) == set(names) | {"image"}
    assert result["cohort"]["gradcam_mean_shape"] == [16] * dims
    (subject, entry), = result["subjects"].items()
    assert subject == split["test"][0]["subject_id"]
    row = split["test"][0]["table"]
    for name in names:  # marking an already missing attribute missing changes nothing
        if row.get(name) in (None, ""):
            assert entry["missing_effect"][name] == 0.0
    assert np.isnan(entry["integrated_gradients"]["sex"])  # categorical: no gradient path, reported as such


def test_chosen_subjects_and_unknown_subject(trained, tmp_path):
    run_dir = trained["run_dir"]
    ids = [r["subject_id"] for r in read_json(run_dir / "split.json")["test"]]
    report = explain_run(run_dir=run_dir, output_dir=tmp_path / "two", subjects=ids[-2:], n_repeats=1,
                         n_cohort_maps=1, ig_steps=4)
    result = _check_report(report, trained["spatial_dims"])
    assert list(result["subjects"]) == ids[-2:]
    with pytest.raises(ValueError, match="sub-9999"):
        explain_run(run_dir=run_dir, output_dir=tmp_path / "bad", subjects=["sub-9999"])


def _table_network():
    torch.manual_seed(0)
    return create_classifier(model="table", spatial_dims=2, in_channels=1, n_numerical=3, cardinalities=[3],
                             out_channels=2).eval()


def test_integrated_gradients_complete_and_missing_effect():
    network = _table_network()
    inputs = {"numerical": torch.tensor([[1.5, -2.0, 0.7]]), "numerical_mask": torch.tensor([[1.0, 1.0, 0.0]]),
              "categorical": torch.tensor([[2]]), "categorical_mask": torch.tensor([[1.0]])}
    attributions = integrated_gradients_numerical(network=network, inputs=inputs, target=1, steps=256)
    assert np.isnan(attributions[2])  # a missing cell has no attribution
    baseline = {**inputs, "numerical": inputs["numerical"] * torch.tensor([[0.0, 0.0, 1.0]])}
    with torch.no_grad():
        gap = (torch.softmax(network(inputs)["logits"], 1)[0, 1] - torch.softmax(network(baseline)["logits"], 1)[0, 1])
    assert np.nansum(attributions) == pytest.approx(float(gap), abs=2e-3)  # completeness
    effect = missing_attribute_effect(network=network, inputs=inputs, target=1)
    assert effect.shape == (4,) and effect[2] == 0.0 and np.abs(effect[[0, 1, 3]]).max() > 0


def test_target_layer_is_a_spatial_image_stage():
    network = create_classifier(model="fusion", spatial_dims=3, in_channels=1, n_numerical=1, cardinalities=[2],
                                out_channels=2, image_encoder="resnet10",
                                image_encoder_args={"width_factor": 0.125}).eval()
    inputs = {"image": torch.zeros(1, 1, 64, 64, 64), "numerical": torch.zeros(1, 1),
              "categorical": torch.ones(1, 1, dtype=torch.long)}
    layer = find_target_layer(network=network, inputs=inputs)
    assert layer == "image_encoder.layer3"  # 64^3 -> 4^3 here, 2^3 at the last stage (too coarse), 1^3 pooled
    tiny = {**inputs, "image": torch.zeros(1, 1, 8, 8, 8)}
    assert find_target_layer(network=network, inputs=tiny).startswith("image_encoder.")  # none >= 4: the finest


def test_table_only_network_and_method_sections(trained, tmp_path):
    run_dir = trained["run_dir"]
    split = read_json(run_dir / "split.json")
    from monai_tabular.engines import load_run
    from monai_tabular.transforms import EncodeLabeld, EncodeTabled
    from monai.transforms import Compose

    schema = load_run(run_dir).schema
    network = create_classifier(model="table", spatial_dims=trained["spatial_dims"], in_channels=1,
                                n_numerical=len(schema.numerical), cardinalities=schema.cardinalities,
                                out_channels=2)
    heat_map = tmp_path / "alignment.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(heat_map, np.eye(4))
    network.explain_extras = lambda run_dir: [("Attribute-channel alignment", heat_map),
                                              ("Note", "alignment computed on the training split")]
    extras = tmp_path / "run" / EXTRAS_DIR
    extras.mkdir(parents=True)
    (extras / "per_modality_predictions.csv").write_text("subject_id,image,table\nsub-1,0.2,0.9\n")
    (tmp_path / "run" / "alignment").mkdir()
    for epoch in (1, 3):  # only the latest file of a pattern is shown
        (tmp_path / "run" / "alignment" / f"alignment_epoch00{epoch}.md").write_text(f"alignment of epoch {epoch}")
    transform = Compose([EncodeTabled(keys="table", schema=schema), EncodeLabeld(keys="label", schema=schema)])
    records = [{k: v for k, v in r.items() if k != "image"} for r in split["test"]]
    report = write_explanation_report(network=network, records=records, transform=transform, schema=schema,
                                      output_dir=tmp_path / "out", run_dir=tmp_path / "run", n_repeats=1,
                                      n_subjects=1, extra_files=["alignment/*.md"])
    text = report.read_text()
    assert "Attribute-channel alignment" in text and "alignment computed on the training split" in text
    assert "per modality predictions" in text and "sub-1" in text
    assert "alignment of epoch 3" in text and "alignment of epoch 1" not in text
    assert (tmp_path / "out" / "extras" / "alignment.png").is_file()
    assert not list((tmp_path / "out").glob("*_image.png")) and "Grad-CAM" not in text
    result = json.loads((tmp_path / "out" / "explanations.json").read_text())
    assert "image" not in result["cohort"]["permutation_importance"]["importances"]


def test_regression_report(cohort40, tmp_path):
    from monai.transforms import Compose, EnsureChannelFirstd, EnsureTyped, LoadImaged, NormalizeIntensityd

    from monai_tabular.engines import prepare_fold
    from monai_tabular.transforms import EncodeLabeld, EncodeTabled

    spec = {"subject_id": "subject_id", "label": "age", "task": "regression", "image": ["image"],
            "ignore": ["notes"]}
    data = prepare_fold(output_dir=tmp_path / "fold", csv=cohort40.csv_path, spec=spec, n_folds=4)
    torch.manual_seed(0)
    network = create_classifier(model="fusion", spatial_dims=2, in_channels=1, n_numerical=data.n_numerical,
                                cardinalities=data.cardinalities, out_channels=1, image_encoder="resnet10",
                                image_encoder_args={"width_factor": 0.125})
    transform = Compose([LoadImaged("image", image_only=True), EnsureChannelFirstd("image"),
                         EnsureTyped("image", dtype=torch.float32), NormalizeIntensityd("image"),
                         EncodeTabled("table", schema=data.schema), EncodeLabeld("label", schema=data.schema)])
    report = write_explanation_report(network=network, records=data.test, transform=transform, schema=data.schema,
                                      output_dir=tmp_path / "out", **FAST)
    result = _check_report(report, 2)
    assert result["cohort"]["permutation_importance"]["metric"] == "negative MAE"
    assert "age" not in result["cohort"]["permutation_importance"]["importances"]  # the label is no attribute
    assert "prediction (standardised)" in report.read_text()
