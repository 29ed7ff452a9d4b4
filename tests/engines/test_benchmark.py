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
"""Benchmark harness: a plan of tables runs through the fold runner, resumes, and becomes one results page."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from monai_tabular.engines.benchmark import PlanError, load_plan, plan_tables, run_plan, write_results_page

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")

SYNTHETIC = {"epochs": 1, "n_folds": 3, "batch_size": 4,
             "synthetic": {"n_subjects": 40, "spatial_dims": 2, "image_size": [16, 16], "seed": 0},
             "image_encoder_args": {"width_factor": 0.125}}
PLAN = {"budget": "1 epoch, tiny 2D cohort",
        "tables": [{"id": "synthetic/baseline", "task": "Synthetic 2D", "title": "Image vs fusion", "folds": [0],
                    "overrides": SYNTHETIC,
                    "runs": {"image": {"bundle": "image_table_baseline", "overrides": {"model": "image"},
                                       "modes": {"both": "image_only"}},
                             "fusion": {"bundle": "image_table_baseline", "overrides": {"model": "fusion"},
                                        "modes": {"both": "both", "table_only": "table_only"}}}},
                   {"id": "synthetic/unfinished", "task": "Synthetic 2D", "title": "Never run", "folds": [0],
                    "runs": {"table": {"bundle": "image_table_baseline", "overrides": {"model": "table"}}}}]}


@pytest.fixture(scope="module")
def benchmark_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("benchmark")
    plan_file = root / "plan.json"
    plan_file.write_text(json.dumps(PLAN))
    plan = load_plan(plan_file)
    paths = run_plan(plan, output_dir=root / "runs", tables=["synthetic/baseline"], n_boot=50)
    page = write_results_page(plan, output_dir=root / "runs", page=root / "docs" / "results.md")
    return root, plan, paths, page


def test_plan_table_runs_every_row_and_the_sklearn_row(benchmark_run):
    root, _, paths, _ = benchmark_run
    results = pd.read_csv(paths["synthetic/baseline"]["csv"])
    assert set(zip(results["method"], results["mode"])) == {
        ("image", "image_only"), ("fusion", "both"), ("fusion", "table_only"), ("logistic_regression", "table_only")}
    assert (root / "runs" / "synthetic" / "baseline" / "fusion" / "fold0" / "predictions_table_only.csv").is_file()
    assert not (root / "runs" / "synthetic" / "unfinished").exists()


def test_results_page_groups_by_task_and_copies_figures(benchmark_run):
    root, _, _, page = benchmark_run
    text = page.read_text()
    assert text.count("## Synthetic 2D") == 1
    assert "### Image vs fusion" in text and "### Never run" in text and "Not run yet" in text
    assert "1 epoch, tiny 2D cohort" in text
    assert (root / "docs" / "figures" / "synthetic_baseline_bars.png").is_file()
    assert "](figures/synthetic_baseline_bars.png)" in text
    assert "| logistic_regression | table_only |" in text


def test_rerun_skips_finished_folds(benchmark_run):
    root, plan, paths, _ = benchmark_run
    model = root / "runs" / "synthetic" / "baseline" / "image" / "fold0" / "model.pt"
    stamp = model.stat().st_mtime_ns
    run_plan(plan, output_dir=root / "runs", tables=["synthetic/baseline"], n_boot=50)
    assert model.stat().st_mtime_ns == stamp


def test_plan_errors_name_the_entry(tmp_path):
    with pytest.raises(PlanError, match="non-empty 'tables'"):
        plan_tables({"tables": []})
    with pytest.raises(PlanError, match="'x'.*unknown key"):
        plan_tables({"tables": [{"id": "x", "runs": {"a": {"bundle": "b"}}, "epochs": 3}]})
    with pytest.raises(PlanError, match="used twice"):
        plan_tables({"tables": [{"id": "x", "runs": {"a": {"bundle": "b"}}}] * 2})
    with pytest.raises(PlanError, match="run 'a'"):
        plan_tables({"tables": [{"id": "x", "runs": {"a": {"overrides": {}}}}]})
    with pytest.raises(PlanError, match="not found"):
        run_plan({"tables": [{"id": "x", "runs": {"a": {"bundle": "no_such_bundle"}}}]}, output_dir=tmp_path)
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    with pytest.raises(PlanError, match="plan.json"):
        load_plan(bad)
    with pytest.raises(PlanError, match="does not exist"):
        load_plan(tmp_path / "missing.json")


def test_the_shipped_plan_is_valid():
    from pathlib import Path

    plan = load_plan(Path(__file__).resolve().parents[2] / "benchmarks" / "plan.json")
    assert all(table.get("runs") or table.get("command") for table in plan_tables(plan))


def test_cli_benchmark_collect_only_writes_the_page(benchmark_run, tmp_path):
    from monai_tabular.cli.main import main

    root, _, _, _ = benchmark_run
    page = tmp_path / "results.md"
    code = main(["benchmark", "--plan", str(root / "plan.json"), "--output-dir", str(root / "runs"),
                 "--results", str(page), "--collect-only"])
    assert code == 0 and "### Image vs fusion" in page.read_text()
    assert main(["benchmark", "--plan", str(tmp_path / "nope.json"), "--collect-only"]) == 2


def test_tables_made_by_their_own_script_are_collected(tmp_path):
    results = tmp_path / "runs" / "survival" / "gbsg2" / "results"
    results.mkdir(parents=True)
    (results / "results.md").write_text("# GBSG2\n\n| method | cindex |\n| --- | --- |\n| coxph | 0.68 |\n")
    (results / "km.png").write_bytes(b"\x89PNG fake")
    plan = {"tables": [{"id": "survival/gbsg2", "task": "Survival", "command": "python benchmarks/x.py"}]}
    assert run_plan(plan, output_dir=tmp_path / "runs") == {}
    page = write_results_page(plan, output_dir=tmp_path / "runs", page=tmp_path / "docs" / "results.md").read_text()
    assert "| coxph | 0.68 |" in page and "Made by `python benchmarks/x.py`" in page
    assert "](figures/survival_gbsg2_km.png)" in page and (tmp_path / "docs/figures/survival_gbsg2_km.png").is_file()
