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
"""``monai-tabular explain``: ``train.json`` + ``explain.json`` on a trained fold -> a Markdown report with PNGs."""

from __future__ import annotations

import argparse
from pathlib import Path

from monai_tabular.cli.bundles import find_bundle
from monai_tabular.cli.errors import EXIT_OK, CLIError
from monai_tabular.cli.overrides import add_run_arguments, collect_overrides, resolve_folds
from monai_tabular.cli.runs import run_each_fold

__all__ = ["NAME", "HELP", "DESCRIPTION", "MODES", "add_arguments", "run"]

NAME = "explain"
HELP = "explain a trained fold: image saliency and table attributions in a report (bundle explain.json)"
DESCRIPTION = """Explain trained run folders with the bundle's train.json + explain.json, using the same --config and
--set values as training. For chosen subjects: Grad-CAM and occlusion sensitivity of the image (3D as a montage of
slices), integrated gradients and the effect of marking each attribute missing; for the cohort: permutation
importance of every attribute and of the image, and the mean Grad-CAM map. Method bundles add their own sections.
Writes <run folder>/explain_<mode>/report.md with its PNGs and explanations.json."""
MODES = ("both", "image_only", "table_only")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--mode", choices=MODES, default="both",
                        help="inputs the network sees: both (default), image_only or table_only")
    parser.add_argument("--subjects", metavar="ID,ID",
                        help="subject ids to explain one by one (default: the first --n-subjects of the part)")
    parser.add_argument("--n-subjects", type=int, default=2, metavar="N",
                        help="how many subjects to explain when --subjects is not given (default 2)")
    parser.add_argument("--repeats", type=int, default=5, metavar="N",
                        help="shuffles per input in the cohort permutation importance (default 5)")


def _reporter(mode: str):
    def report(run_dir: Path) -> str:
        path = run_dir / f"explain_{mode}" / "report.md"
        if not path.is_file():
            return f"{run_dir}: no explain_{mode}/report.md written (does the bundle's explain.json write elsewhere?)"
        n_png = len(list(path.parent.glob("*.png")))
        return f"{run_dir}: explanation report {path} ({n_png} figures)"

    return report


def run(args: argparse.Namespace) -> int:
    if args.n_subjects < 0 or args.repeats < 1:
        raise CLIError(f"--n-subjects must be >= 0 and --repeats >= 1; got {args.n_subjects} and {args.repeats}")
    bundle_dir = find_bundle(args.bundle)
    overrides = collect_overrides(args)
    overrides.update({"eval_mode": args.mode, "explain_n_subjects": args.n_subjects,
                      "explain_repeats": args.repeats})
    if args.subjects:
        overrides["explain_subjects"] = [s.strip() for s in args.subjects.split(",") if s.strip()]
    folds = resolve_folds(args.folds, overrides, bundle_dir)
    run_each_fold(bundle_dir, ["train.json", "explain.json"], overrides, folds, verb="explain",
                  report=_reporter(args.mode))
    return EXIT_OK
