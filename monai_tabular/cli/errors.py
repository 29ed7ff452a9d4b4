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
"""Turning bad-input exceptions into one ``error: ...`` line (exit code 2) instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator

from monai_tabular.data.errors import TableDataError

__all__ = ["CLIError", "EXIT_OK", "EXIT_PROBLEMS", "EXIT_BAD_INPUT", "find_bad_input", "format_error"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2

# Matched by class name: the CLI may import only engines and data, and these live in handlers/networks.
_BAD_INPUT_NAMES = {"CheckpointLoadError", "UnknownEncoderError"}


class CLIError(Exception):
    """A usage problem the command line reports itself (unknown bundle, a file that would be overwritten ...)."""


_BAD_INPUT_TYPES = (CLIError, TableDataError, FileNotFoundError, FileExistsError, NotADirectoryError, KeyError,
                    ValueError)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The exception and its causes/contexts, outermost first (bundle configs wrap errors in RuntimeError)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _is_bad_input(error: BaseException) -> bool:
    if isinstance(error, _BAD_INPUT_TYPES):
        return True
    return any(cls.__name__ in _BAD_INPUT_NAMES for cls in type(error).__mro__)


def find_bad_input(error: BaseException) -> BaseException | None:
    """The first exception in ``error``'s chain that reports bad input, else ``None`` (a bug: show a traceback).

    Example:
        >>> try:
        ...     try:
        ...         raise FileNotFoundError("table file x.csv does not exist")
        ...     except FileNotFoundError as exc:
        ...         raise RuntimeError("Failed to evaluate ConfigExpression") from exc
        ... except RuntimeError as outer:
        ...     print(find_bad_input(outer))
        table file x.csv does not exist
    """
    return next((e for e in _chain(error) if _is_bad_input(e)), None)


def format_error(error: BaseException) -> str:
    """``error: <message>``; a combined :class:`TableDataError` keeps one indented line per problem.

    Example:
        >>> format_error(KeyError("unknown encoder 'nope'"))
        "error: unknown encoder 'nope'"
    """
    if isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        message = error.args[0]
    else:
        message = str(error) or type(error).__name__
    problems = getattr(error, "problems", None)
    if problems:
        lines = [f"{len(problems)} problems in the input:"] + [f"  - {p}" for p in problems]
        return "error: " + "\n".join(lines)
    return f"error: {message}"
