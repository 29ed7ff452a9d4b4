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
"""``monai-tabular``: the console script's argument parsing, dispatch and error reporting.

Bad input (a table problem, a missing file, an unknown bundle or encoder, a checkpoint that does not load) is
printed as one ``error: ...`` line with exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from monai_tabular.cli import (cmd_benchmark, cmd_evaluate, cmd_explain, cmd_finetune, cmd_init, cmd_predict,
                               cmd_train, cmd_validate)
from monai_tabular.cli.errors import EXIT_BAD_INPUT, find_bad_input, format_error

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (cmd_init, cmd_validate, cmd_train, cmd_evaluate, cmd_explain, cmd_predict, cmd_finetune,
            cmd_benchmark)


def build_parser() -> argparse.ArgumentParser:
    """The ``monai-tabular`` parser with one subparser per command.

    Example:
        >>> build_parser().parse_args(["train", "--set", "epochs=1"]).command
        'train'
    """
    parser = argparse.ArgumentParser(
        prog="monai-tabular", description="Images + clinical tables on MONAI: set up a project from a CSV, check "
        "it, then train, evaluate, predict and fine-tune with a bundle.",
        epilog="typical use: init -> validate -> train -> evaluate -> predict. `monai-tabular COMMAND --help` "
               "describes each command.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.DESCRIPTION, parents=[debug],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``monai-tabular`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    0: done (validate: no problems); 1: validate found problems; 2: bad input, reported as ``error: ...``.

    Example:
        >>> main(["validate", "--csv", "cohort.csv", "--spec", "project/spec.json"])   # doctest: +SKIP
        0
    """
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return int(args.handler(args))
    except Exception as exc:  # bad input becomes one line; anything else is a bug and keeps its traceback
        bad = find_bad_input(exc)
        if bad is None or args.debug:
            raise
        sys.stdout.flush()
        print(format_error(bad), file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:  # bundles configure logging (logging.conf); give an in-process caller its own set-up back
        root.handlers[:] = handlers
        root.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
