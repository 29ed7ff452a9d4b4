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
"""``monai-tabular finetune``: train starting from another run's weights and report which tensors loaded."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monai_tabular.cli.bundles import find_bundle
from monai_tabular.cli.cmd_train import training_report
from monai_tabular.cli.errors import EXIT_OK, CLIError
from monai_tabular.cli.overrides import add_run_arguments, collect_overrides, resolve_folds, run_dir_of
from monai_tabular.cli.runs import run_each_fold

__all__ = ["NAME", "HELP", "add_arguments", "run", "capture_log"]

NAME = "finetune"
HELP = "train starting from a trained run's weights (matching tensors load, the others start fresh)"
DESCRIPTION = """Train with the bundle's train.json and pretrained=<RUN_DIR>/model.pt: every parameter tensor whose
name and shape match the new network loads, the rest (e.g. table input layers of a cohort with other columns, a
head with another number of classes) is trained from scratch. The report of loaded and new tensors is printed."""
# the logger of monai_tabular.handlers.pretrained (named, not imported: cli imports only engines and data)
PRETRAINED_LOGGER = "monai_tabular.handlers.pretrained"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_run", required=True, metavar="RUN_DIR",
                        help="trained run folder whose model.pt initialises the network")
    add_run_arguments(parser)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def capture_log(name: str) -> Iterator[list[str]]:
    """Collect the INFO+ messages of logger ``name`` (whatever the root logger's level) into a list."""
    target = logging.getLogger(name)
    collector, level = _Collector(), target.level
    target.addHandler(collector)
    if target.getEffectiveLevel() > logging.INFO:
        target.setLevel(logging.INFO)
    try:
        yield collector.messages
    finally:
        target.removeHandler(collector)
        target.setLevel(level)


def run(args: argparse.Namespace) -> int:
    bundle_dir = find_bundle(args.bundle)
    source = Path(args.from_run)
    checkpoint = source / "model.pt"
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint} does not exist: --from needs the folder of a trained run")
    overrides = collect_overrides(args)
    overrides["pretrained"] = str(checkpoint.resolve())
    folds = resolve_folds(args.folds, overrides, bundle_dir)
    for fold in folds or [None]:
        target = run_dir_of({**overrides, **({} if fold is None else {"fold": fold})}, bundle_dir)
        if target.resolve() == source.resolve():
            raise CLIError(f"the fine-tuned run would be written into {source} itself; choose another output "
                           "folder, e.g. --set output_dir=runs_finetuned")
    with capture_log(PRETRAINED_LOGGER) as messages:
        run_each_fold(bundle_dir, ["train.json"], overrides, folds, verb="finetune", report=training_report)
    print(f"\npretrained weights from {checkpoint}:")
    if messages:
        for message in messages:
            print(f"  {message}")
    else:
        print("  none loaded: the run resumed from its own last.pt (pretrained weights apply to a fresh run only)")
    return EXIT_OK
