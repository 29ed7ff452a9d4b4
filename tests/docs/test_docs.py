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
"""The documentation builds with warnings as errors (``mkdocs build --strict``: how CI builds the docs), and the
code blocks of the docs marked ``<!-- test -->`` run, in order, on the tiny synthetic cohorts.

A marked ``python`` block runs in one namespace per page; a marked ``bash`` block may hold only ``monai-tabular``
commands (one per line, ``\\`` continuations allowed), each run in-process and required to exit 0. Each page
runs in its own empty working folder.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import one_torch_thread

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
MARKER = "<!-- test -->"
BLOCK = re.compile(r"^<!-- test -->[ \t]*\n```(\w+)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
# pages whose marked blocks must exist (the tutorials that run as tests)
TESTED_PAGES = ("tutorials/bring_your_own_cohort.md", "tutorials/monai_pipeline.md")

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


def marked_blocks(page: Path) -> list[tuple[str, str]]:
    """``(language, code)`` of each block right after a ``<!-- test -->`` line, in page order."""
    text = page.read_text()
    blocks = [(m.group(1).lower(), m.group(2)) for m in BLOCK.finditer(text)]
    if text.count(MARKER) != len(blocks):
        raise AssertionError(f"{page}: {text.count(MARKER)} '{MARKER}' markers but {len(blocks)} fenced blocks "
                             "right after one (the fence must start on the next line)")
    return blocks


def pages_with_tests() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if MARKER in p.read_text())


def commands(code: str) -> list[list[str]]:
    """The ``monai-tabular`` commands of a bash block, as argument lists."""
    joined = re.sub(r"\\\n\s*", " ", code)
    result = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] != "monai-tabular":
            raise AssertionError(f"a tested bash block may only run monai-tabular; got {line!r}")
        result.append(words[1:])
    return result


def test_the_tutorials_are_tested():
    tested = {p.relative_to(DOCS).as_posix() for p in pages_with_tests()}
    assert set(TESTED_PAGES) <= tested
    for page in TESTED_PAGES:
        languages = {language for language, _ in marked_blocks(DOCS / page)}
        assert languages <= {"python", "bash"}


def test_docs_build_strict(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir",
                             str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    assert (tmp_path / "site" / "index.html").is_file()
    api = (tmp_path / "site" / "api" / "data" / "index.html").read_text()
    assert "TableSchema" in api  # the API reference is rendered from the docstrings


@pytest.mark.parametrize("page", [p.relative_to(DOCS).as_posix() for p in pages_with_tests()])
def test_tutorial_blocks_run(page, tmp_path, monkeypatch, capsys):
    from monai_tabular.cli.main import main

    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{Path(page).stem}"}
    with one_torch_thread():
        for index, (language, code) in enumerate(marked_blocks(DOCS / page)):
            where = f"{page}, tested block {index + 1} ({language})"
            if language == "python":
                exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the docs' own code
            elif language == "bash":
                for argv in commands(code):
                    code_returned = main(argv)
                    assert code_returned == 0, f"{where}: monai-tabular {' '.join(argv)} exited {code_returned}:\n" \
                                               f"{capsys.readouterr().err[-2000:]}"
            else:
                raise AssertionError(f"{where}: cannot run a {language} block")
    assert os.listdir(tmp_path)  # the page did something in its working folder
