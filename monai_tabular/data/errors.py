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
"""Errors raised for bad input: each names the file, row (CSV line) and column it is about."""

from __future__ import annotations

__all__ = ["TableDataError", "SchemaError", "ImageDataError", "SplitError", "combine_errors"]


class TableDataError(ValueError):
    """Bad table input. The message names the file, CSV line and column where known.

    Args:
        message: what is wrong and how to fix it.
        file: the CSV or JSON file concerned.
        column: the column concerned.
        rows: where in the table, e.g. ``"line 5"`` (CSV line, header = line 1) or a subject id.

    Example:
        >>> str(TableDataError("label is empty", file="cohort.csv", column="label", rows=["line 5", "line 9"]))
        "label is empty [file 'cohort.csv'; column 'label'; at line 5, line 9]"
    """

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None, rows=None):
        self.file = None if file is None else str(file)
        self.column = column
        self.rows = list(rows) if rows is not None else None
        where = []
        if self.file:
            where.append(f"file '{self.file}'")
        if column is not None:
            where.append(f"column '{column}'")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:10])
            more = f" (+{len(self.rows) - 10} more)" if len(self.rows) > 10 else ""
            where.append(f"at {shown}{more}")
        super().__init__(f"{message} [{'; '.join(where)}]" if where else message)


class SchemaError(TableDataError):
    """A schema/spec that does not fit the table it is applied to."""


class ImageDataError(TableDataError):
    """An image path that does not exist or an image that cannot be read (names the subject)."""


class SplitError(TableDataError):
    """A data split that is malformed or leaks subjects across sides."""


def combine_errors(problems: list[TableDataError]) -> TableDataError:
    """One error listing several problems (the first problem's file/column/rows are kept as attributes)."""
    if len(problems) == 1:
        return problems[0]
    message = f"{len(problems)} problems in the input:\n" + "\n".join(f"  - {p}" for p in problems)
    error = type(problems[0]) if all(type(p) is type(problems[0]) for p in problems) else TableDataError
    combined = error(message)
    combined.file, combined.column, combined.rows = problems[0].file, problems[0].column, problems[0].rows
    combined.problems = list(problems)
    return combined
