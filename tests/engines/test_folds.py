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
"""``run_folds`` on tiny data: one results row per method x mode, paired tests, finished folds skipped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from monai_tabular.engines import RunSpec, run_folds, run_specs

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "image_table_baseline"
OVERRIDES = {"epochs": 1, "n_folds": 3, "batch_size": 4,
             "synthetic": {"n_subjects": 40, "spatial_dims": 2, "image_size": [16, 16], "seed": 0},
             "image_encoder_args": {"width_factor": 0.125}}
EXPECTED_ROWS = {("fusion", "both"), ("fusion", "image_only"), ("fusion", "table_only"), ("table", "table_only"),
                 ("logistic_regression", "table_only")}


def _markdown_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return split[0], split[2:]  # header, (separator), rows


@pytest.fixture(scope="module")
def folds_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("run_folds")
    paths = run_folds(bundle_dir=BUNDLE, output_dir=output, models=["fusion", "table"], folds=[0, 1],
                      overrides=OVERRIDES, n_boot=50)
    return output, paths


def test_results_have_a_row_per_method_and_mode(folds_run):
    output, paths = folds_run
    assert paths["markdown"] == output / "results" / "results.md"
    header, rows = _markdown_rows(paths["markdown"])
    assert header[:3] == ["method", "mode", "folds"]
    assert "auc" in header
    assert "Δ auc vs logistic_regression" in header and "p vs logistic_regression" in header
    assert {(r[0], r[1]) for r in rows} == EXPECTED_ROWS and len(rows) == len(EXPECTED_ROWS)
    p_column = header.index("p vs logistic_regression")
    for row in rows:
        assert row[2] == "2"  # pooled over 2 folds
        if row[0] != "logistic_regression":
            assert float(row[p_column].split()[0]) <= 1.0  # a p-value
    pooled = pd.read_csv(output / "results" / "predictions.csv", dtype={"subject_id": str})
    counts = pooled.groupby(["method", "mode"]).size()
    assert counts.nunique() == 1  # every method x mode predicted the same subjects
    fold_results = pd.read_csv(paths["csv"])
    assert len(fold_results) >= len(EXPECTED_ROWS)


def test_run_folds_writes_each_run(folds_run):
    output, _ = folds_run
    for model, modes in (("fusion", ("both", "image_only", "table_only")), ("table", ("both",))):
        for fold in (0, 1):
            run_dir = output / model / f"fold{fold}"
            assert (run_dir / "model.pt").is_file() and (run_dir / "summary.json").is_file()
            for mode in modes:
                assert (run_dir / f"predictions_{mode}.csv").is_file()
                assert (run_dir / f"metrics_{mode}.json").is_file()


def test_rerun_skips_finished_folds(folds_run):
    output, paths = folds_run
    watched = sorted(output.glob("*/fold*/model.pt")) + sorted(output.glob("*/fold*/predictions_*.csv"))
    assert len(watched) == 4 + 8
    before = {p: p.stat().st_mtime_ns for p in watched}
    results_before = paths["markdown"].read_text()
    again = run_folds(bundle_dir=BUNDLE, output_dir=output, models=["fusion", "table"], folds=[0, 1],
                      overrides=OVERRIDES, n_boot=50)
    assert {p: p.stat().st_mtime_ns for p in watched} == before
    assert again["markdown"].read_text() == results_before


def test_unknown_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        run_folds(bundle_dir=BUNDLE, output_dir=tmp_path, models=["transformer"], folds=[0], overrides=OVERRIDES)


def test_run_specs_accept_named_rows_with_their_own_overrides_and_modes(tmp_path):
    models = {"image_small": {"overrides": {"model": "image"}, "modes": {"both": "image_only"}},
              "fusion_as_table": {"overrides": {"model": "fusion"}, "modes": {"table_only": "table_only"}}}
    paths = run_folds(bundle_dir=BUNDLE, output_dir=tmp_path, models=models, folds=[0], overrides=OVERRIDES,
                      n_boot=50)
    results = pd.read_csv(paths["csv"])
    assert set(zip(results["method"], results["mode"])) == {("image_small", "image_only"),
                                                            ("fusion_as_table", "table_only"),
                                                            ("logistic_regression", "table_only")}
    assert (tmp_path / "fusion_as_table" / "fold0" / "predictions_table_only.csv").is_file()
    assert not (tmp_path / "fusion_as_table" / "fold0" / "predictions_both.csv").exists()


def test_run_specs_refuse_unknown_keys_and_duplicate_names():
    with pytest.raises(ValueError, match="unknown key"):
        run_specs({"x": {"bundle": "b"}})
    with pytest.raises(ValueError, match="unique"):
        run_specs([RunSpec("a"), RunSpec("a")])
