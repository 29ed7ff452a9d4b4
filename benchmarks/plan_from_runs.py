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
"""Add the finished tables of the method scripts (``benchmarks/run_<method>.py``) to the benchmark plan.

Each method script drives the same fold runner and leaves ``runs/<method>/<task>/results/run.json`` (rows, bundles,
overrides, evaluation modes, folds). This script turns each into a plan table with the same id, so
``monai-tabular benchmark --plan benchmarks/plan.json --collect-only`` puts every table in ``docs/results.md`` and
a plain ``monai-tabular benchmark`` re-runs (or resumes) any of them.

    python benchmarks/plan_from_runs.py --runs runs --plan benchmarks/plan.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TASKS = {  # run folder name prefix -> section of docs/results.md
    "derm7pt": "Derm7pt: MEL vs NEV (2D dermoscopy + 7-point checklist and metadata, given split)",
    "ixi_sex": "IXI-HH: sex (3D T1 at 4 mm + clinical table, given 5 folds)",
    "sex_": "IXI-HH: sex (3D T1 at 4 mm + clinical table, given 5 folds)",
    "ixi_age": "IXI-HH: age (regression)",
    "mfeat": "mfeat: 10-class digits (16x15 image + five tabular views, 5 folds)",
    "gbsg2": "Survival",
    "whas500": "Survival",
    "synthetic_survival": "Survival",
}


SCRIPTS = {"issue14": "run_real_cohorts", "baselines": "run_baselines", "cfcml_long": "run_cfcml"}  # run folder -> benchmarks/<script>.py


LABELS = {"issue14": "real cohorts", "cfcml": "CFCML", "cfcml_long": "CFCML (20 epochs)", "charms": "CHARMS", "gaal": "GAAL", "citab": "CITab",
          "mtcmtm": "MT-CMTM"}


def script_command(method: str, task: str) -> str:
    return f"python benchmarks/{SCRIPTS.get(method, 'run_' + method)}.py --tasks {task} --output-dir runs/{method}"


def section(task_dir: str) -> str:
    return next((title for prefix, title in TASKS.items() if task_dir.startswith(prefix)), task_dir)


def table_from_run(run_json: Path, runs_root: Path) -> dict:
    run = json.loads(run_json.read_text())
    results = run_json.parent
    table_id = str(results.parent.relative_to(runs_root))
    method = table_id.split("/")[0]
    title = (results / "results.md").read_text().splitlines()[0].lstrip("# ").strip()
    overrides = {k: v for k, v in run.get("overrides", {}).items() if k != "dataset_dir"}
    rows = {name: {"bundle": Path(spec["bundle_dir"]).name, "overrides": spec.get("overrides", {}),
                   "modes": spec.get("modes", {"both": "both"})} for name, spec in run.get("runs", {}).items()}
    folds = [int(f) if str(f).isdigit() else f for f in run.get("folds", [])]
    return {"id": table_id, "task": section(results.parent.name), "title": f"{LABELS.get(method, method)}: {title}", "folds": folds,
            "overrides": overrides, "runs": rows,
            "notes": f"Made by `{script_command(method, results.parent.name)}` (same fold runner; resumes)."}


def external_table(results_md: Path, runs_root: Path) -> dict:
    """A table written by its script without the fold runner (e.g. survival): collected, not re-run here."""
    table_id = str(results_md.parent.parent.relative_to(runs_root))
    method, task = table_id.split("/")[:2]
    title = results_md.read_text().splitlines()[0].lstrip("# ").strip()
    return {"id": table_id, "task": section(task), "title": f"{LABELS.get(method, method)}: {title}",
            "command": script_command(method, task)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--plan", default="benchmarks/plan.json")
    args = parser.parse_args()
    runs_root, plan_path = Path(args.runs), Path(args.plan)
    plan = json.loads(plan_path.read_text())
    known = {t["id"] for t in plan["tables"]}
    added = []
    for results_md in sorted(runs_root.glob("*/*/results/results.md")):
        run_json = results_md.parent / "run.json"
        table = table_from_run(run_json, runs_root) if run_json.is_file() else external_table(results_md, runs_root)
        if table["id"] in known or ("runs" in table and not table["runs"]):
            continue
        plan["tables"].append(table)
        added.append(table["id"])
    plan_path.write_text(json.dumps(plan, indent=1) + "\n")
    print(f"added {len(added)} table(s) to {plan_path}: {added}")


if __name__ == "__main__":
    main()
