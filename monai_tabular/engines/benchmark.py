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
"""Benchmark harness: run a plan of method x task x fold tables through the fold runner and write one results page.

A plan (JSON, or YAML when PyYAML is installed) lists result tables. Each table is one ``run_folds`` call: the
same folds, shared overrides (data, epochs, budget) and one row group per method run, plus the scikit-learn rows
on the same table and split, so every table carries its own logistic-regression anchor and paired tests.

.. code-block:: json

    {"budget": "CPU, 2 cores: 3D at 4 mm, quarter-width ResNet-10, 30 epochs",
     "tables": [{"id": "ixi_sex/baseline", "task": "IXI-HH: sex (3D T1 + clinical)", "title": "Late fusion",
                 "folds": [0, 1, 2, 3, 4], "overrides": {"recipe": "ixi_t1_hh/sex", "epochs": 30},
                 "runs": {"image": {"bundle": "image_table_baseline", "overrides": {"model": "image"},
                                    "modes": {"both": "image_only"}}}}]}

Finished folds are skipped, so a stopped benchmark resumes; ``write_results_page`` turns the finished tables into
``docs/results.md`` (one section per task, one table per plan entry, bar chart with CIs and ROC curves).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from monai_tabular.engines.folds import RunSpec, run_folds

__all__ = ["load_plan", "resolve_bundle", "plan_tables", "run_plan", "write_results_page", "PlanError"]

logger = logging.getLogger(__name__)

_TABLE_KEYS = {"id", "task", "title", "folds", "overrides", "runs", "sklearn_methods", "notes", "command"}
_RUN_KEYS = {"bundle", "overrides", "modes"}


class PlanError(ValueError):
    """A benchmark plan that cannot be run; the message names the plan file and the entry."""


def load_plan(path: str | Path) -> dict[str, Any]:
    """Read a plan file (``.json``, or ``.yaml``/``.yml`` with PyYAML) and check its structure.

    Example:
        >>> plan = load_plan("benchmarks/plan.json")   # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"benchmark plan {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise PlanError(f"{path}: reading a YAML plan needs PyYAML (pip install pyyaml), or write it as JSON") \
                from exc
        plan = yaml.safe_load(text)
    else:
        try:
            plan = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"{path}: not valid JSON ({exc})") from exc
    plan_tables(plan, source=str(path))
    plan.setdefault("_path", str(path.resolve()))
    return plan


def plan_tables(plan: Mapping[str, Any], *, source: str = "plan") -> list[Mapping[str, Any]]:
    """The plan's tables after checking their keys (unknown keys and duplicate ids are errors).

    Example:
        >>> [t["id"] for t in plan_tables({"tables": [{"id": "a/b", "runs": {"x": {"bundle": "b"}}}]})]
        ['a/b']
    """
    tables = plan.get("tables") if isinstance(plan, Mapping) else None
    if not isinstance(tables, list) or not tables:
        raise PlanError(f"{source}: a plan needs a non-empty 'tables' list")
    seen: set[str] = set()
    for index, table in enumerate(tables):
        where = f"{source}: tables[{index}]"
        if not isinstance(table, Mapping) or "id" not in table:
            raise PlanError(f"{where} needs an 'id'")
        where = f"{source}: table {table['id']!r}"
        unknown = sorted(set(table) - _TABLE_KEYS)
        if unknown:
            raise PlanError(f"{where} has unknown key(s) {unknown}; allowed: {sorted(_TABLE_KEYS)}")
        if table["id"] in seen:
            raise PlanError(f"{where}: the id is used twice")
        seen.add(table["id"])
        runs = table.get("runs")
        if runs is None and table.get("command"):  # a table made by its own script (e.g. survival): collected only
            continue
        if not isinstance(runs, Mapping) or not runs:
            raise PlanError(f"{where} needs a non-empty 'runs' mapping (row name -> bundle, overrides, modes), or "
                            "a 'command' that writes <output_dir>/<id>/results/results.md itself")
        for name, run in runs.items():
            bad = sorted(set(run) - _RUN_KEYS) if isinstance(run, Mapping) else ["(not a mapping)"]
            if bad or "bundle" not in run:
                raise PlanError(f"{where}, run {name!r}: needs 'bundle' and may have {sorted(_RUN_KEYS)}; got {bad}")
    return tables


def resolve_bundle(bundle: str, *, roots: Iterable[str | Path]) -> Path:
    """A bundle folder from a path or a name looked up under ``roots`` (the first folder holding it wins).

    Example:
        >>> resolve_bundle("image_table_baseline", roots=["bundles"]).name   # doctest: +SKIP
        'image_table_baseline'
    """
    path = Path(bundle).expanduser()
    if (path / "configs").is_dir():
        return path.resolve()
    looked = [str(path)]
    for root in roots:
        candidate = Path(root) / bundle
        if (candidate / "configs").is_dir():
            return candidate.resolve()
        looked.append(str(candidate))
    raise PlanError(f"bundle {bundle!r} not found; looked in {looked}")


def _default_roots(plan: Mapping[str, Any]) -> list[Path]:
    roots = []
    if plan.get("_path"):
        plan_dir = Path(plan["_path"]).parent
        roots += [plan_dir, plan_dir / "bundles", plan_dir.parent / "bundles"]
    roots.append(Path(__file__).resolve().parents[2] / "bundles")
    return roots


def run_plan(plan: Mapping[str, Any], *, output_dir: str | Path, data_root: str | None = None,
             tables: Sequence[str] | None = None, bundle_roots: Sequence[str | Path] = (),
             log_config: str = "logging_quiet.conf", n_boot: int = 1000) -> dict[str, dict[str, Path]]:
    """Run the plan's tables (all, or those whose id starts with one of ``tables``); returns their result paths.

    Each table goes to ``<output_dir>/<id>``; finished folds are skipped. ``data_root`` becomes every run's
    ``dataset_dir`` unless the table sets one.

    Example:
        >>> run_plan(load_plan("benchmarks/plan.json"), output_dir="runs", tables=["derm7pt"])   # doctest: +SKIP
    """
    roots = [*bundle_roots, *_default_roots(plan)]
    chosen = [t for t in plan_tables(plan) if not tables or any(str(t["id"]).startswith(p) for p in tables)]
    for table in [t for t in chosen if "runs" not in t]:
        logger.warning("table %s is made by its own script: %s", table["id"], table["command"])
    chosen = [t for t in chosen if "runs" in t]
    if tables and not chosen:
        raise PlanError(f"no table id starts with {list(tables)}; ids: {[t['id'] for t in plan_tables(plan)]}")
    results = {}
    for table in chosen:
        specs = [RunSpec(name, resolve_bundle(run["bundle"], roots=roots), dict(run.get("overrides") or {}),
                         dict(run.get("modes") or {"both": "both"})) for name, run in table["runs"].items()]
        overrides = dict(table.get("overrides") or {})
        if data_root:
            overrides.setdefault("dataset_dir", str(data_root))
        logger.info("benchmark table %s: %s", table["id"], [s.name for s in specs])
        results[table["id"]] = run_folds(
            bundle_dir=specs[0].bundle_dir, output_dir=Path(output_dir) / table["id"], models=specs,
            folds=table.get("folds"), overrides=overrides,
            sklearn_methods=tuple(table.get("sklearn_methods", ("logistic_regression",))),
            title=table.get("title", table["id"]), n_boot=n_boot, log_config=log_config)
    return results


PAGE_HEADER = """# Results

Every table below was written by the benchmark harness (`monai-tabular benchmark`, plan `{plan}`) from the fold
runner's pooled predictions; regenerate (finished folds are skipped) with

```bash
{command}
```

Budget: {budget}

Metrics are computed on the predictions pooled over the test parts of all folds (each subject predicted once, by
the model that neither trained nor selected on it), with 95% percentile bootstrap CIs (1000 resamples of subjects,
stratified by class). Each table has its own scikit-learn rows on the same table and split; binary tasks compare
each row's AUC with the logistic-regression row by a two-sided DeLong test paired by subject (D), multi-class tasks
by a Wilcoxon signed-rank test over folds (W), regression compares MAE. A deep model claims a gain only where it
beats the logistic-regression row with p < 0.05. Modes: `both` = image and table; `image_only` / `table_only` = the
model evaluated without the other modality (a fusion model replaces it by its learned "missing" input; a unimodal
model never had it).
"""


def write_results_page(plan: Mapping[str, Any], *, output_dir: str | Path, page: str | Path,
                       command: str = "monai-tabular benchmark --plan benchmarks/plan.json") -> Path:
    """Write ``page`` (``docs/results.md``) from the finished tables of ``plan`` under ``output_dir``.

    Tables are grouped by their ``task``; each shows its Markdown table, its settings, a bar chart of the key
    metric with CIs and the ROC curves (copied into ``<page folder>/figures``). Unfinished tables are listed as such.

    Example:
        >>> write_results_page(load_plan("benchmarks/plan.json"), output_dir="runs", page="docs/results.md")   # doctest: +SKIP
    """
    page = Path(page)
    figures = page.parent / "figures"
    plan_name = Path(plan.get("_path", "plan.json")).name
    parts = [PAGE_HEADER.format(plan=plan_name, command=command, budget=plan.get("budget", "see each table"))]
    by_task: dict[str, list[Mapping[str, Any]]] = {}
    for table in plan_tables(plan):
        by_task.setdefault(str(table.get("task", table["id"])), []).append(table)
    for task, entries in by_task.items():
        parts.append(f"## {task}\n")
        for table in entries:
            results = Path(output_dir) / table["id"] / "results"
            heading = f"### {table.get('title', table['id'])}\n"
            if not (results / "results.md").is_file():
                parts.append(f"{heading}\nNot run yet (`--tables {table['id']}`).\n")
                continue
            body = (results / "results.md").read_text(encoding="utf-8").split("\n", 1)[1].lstrip("\n")
            stem = str(table["id"]).replace("/", "_")
            for png in sorted(results.glob("*.png")):
                figures.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(png, figures / f"{stem}_{png.name}")
                if f"]({png.name})" in body:
                    body = body.replace(f"]({png.name})", f"](figures/{stem}_{png.name})")
                elif png.name == "bars.png":
                    body += f"\n![Key metric per method with 95% CIs](figures/{stem}_bars.png)\n"
                else:
                    body += f"\n![{png.stem}](figures/{stem}_{png.name})\n"
            notes = f"\n{table['notes']}\n" if table.get("notes") else ""
            if "runs" not in table:
                parts.append(f"{heading}\n{body}\nMade by `{table['command']}`.\n{notes}")
                continue
            settings = {k: v for k, v in (table.get("overrides") or {}).items() if k != "dataset_dir"}
            rows = {name: {k: v for k, v in run.items() if k != "modes"} for name, run in table["runs"].items()}
            parts.append(f"{heading}\n{body}\nSettings (`--tables {table['id']}`): folds {table.get('folds')}, "
                         f"shared overrides `{json.dumps(settings)}`, rows `{json.dumps(rows)}`.\n{notes}")
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("\n".join(parts), encoding="utf-8")
    return page
