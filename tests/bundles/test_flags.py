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
"""Yes/no bundle options: ``--surgery false`` on the command line is the text ``"false"`` (true when tested), so
every bundle config refuses a non-boolean yes/no option first, naming it."""

from __future__ import annotations

import json

import pytest

from tests.bundles.bundle_helpers import REPO, error_messages, run, tiny

CONFIGS = sorted(p for p in REPO.glob("bundles/*/configs/*.json") if p.name != "metadata.json")


def _flags(path):
    return [key for key, value in json.loads(path.read_text()).items() if isinstance(value, bool)]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_every_yes_no_option_is_checked_first(path):
    config = json.loads(path.read_text())
    flags = _flags(path)
    if path.name not in ("inference.json", "train.json"):
        flags += _flags(path.parent / "train.json")  # merged over train.json
    if not flags:
        return
    first = config["initialize"][0]
    assert first.startswith("$monai_tabular.engines.check_flags("), first
    checked = {part.split("=")[0].strip() for part in first[len("$monai_tabular.engines.check_flags("):-1].split(",")}
    assert set(flags) <= checked, sorted(set(flags) - checked)


def test_lowercase_false_is_refused_with_the_option_named(tmp_path):
    with pytest.raises(Exception) as raised:
        run(["train.json"], {**tiny(tmp_path), "class_weights": "false"})
    assert any("--class_weights must be True or False" in m and "--class_weights False" in m
               for m in error_messages(raised.value))
    assert not (tmp_path / "runs" / "fold0" / "last.pt").exists()
