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
"""``monai-tabular benchmark``: run a plan of method x task x fold tables and write the results page."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from monai_tabular.cli.bundles import bundle_search_roots
from monai_tabular.cli.errors import EXIT_OK
from monai_tabular.engines.benchmark import load_plan, run_plan, write_results_page

__all__ = ["NAME", "HELP", "DESCRIPTION", "add_arguments", "run"]

NAME = "benchmark"
HELP = "run a benchmark plan (methods x tasks x folds) and write docs/results.md"
DESCRIPTION = """Run the tables of a benchmark plan (JSON/YAML: each table = rows of bundles with overrides and
evaluation modes on the same folds, plus the scikit-learn rows) on real or synthetic data, skipping finished folds,
then write one results page: a table per plan entry grouped by task, with bootstrap CIs, paired tests against
logistic regression, bar charts and ROC curves.

example:
  monai-tabular benchmark --plan benchmarks/plan.json --data-root ../shared/data --tables derm7pt
  monai-tabular benchmark --plan benchmarks/plan.json --collect-only      # page from finished tables only"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", default="benchmarks/plan.json", help="plan file (default: %(default)s)")
    parser.add_argument("--output-dir", default="runs", help="where each table's runs go (default: %(default)s)")
    parser.add_argument("--data-root", default=None,
                        help="folder of the real data sets (default: $MONAI_TABULAR_DATA or ../shared/data)")
    parser.add_argument("--tables", nargs="+", metavar="ID_PREFIX", help="run only tables whose id starts so")
    parser.add_argument("--results", default="docs/results.md", help="results page to write (default: %(default)s)")
    parser.add_argument("--collect-only", action="store_true", help="write the page from finished tables; run none")
    parser.add_argument("--quiet", action="store_true", help="bundle logging at warning level")


def run(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    if not args.collect_only:
        logging.basicConfig(level=logging.INFO)
        run_plan(plan, output_dir=args.output_dir, data_root=args.data_root, tables=args.tables,
                 bundle_roots=bundle_search_roots(),
                 log_config="logging_quiet.conf" if args.quiet else "logging.conf")
    command = f"monai-tabular benchmark --plan {shlex.quote(args.plan)} --output-dir {shlex.quote(args.output_dir)}"
    page = write_results_page(plan, output_dir=args.output_dir, page=args.results, command=command)
    print(f"wrote {page}", file=sys.stdout)
    return EXIT_OK
