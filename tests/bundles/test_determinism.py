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
"""The same seed twice gives the same run; another seed gives another one."""

from __future__ import annotations

import pytest
import torch

from tests.bundles.bundle_helpers import network_state, read_json, run

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


def test_same_seed_same_metrics(trained2d, tmp_path):
    first = trained2d["run_dir"]
    run(["train.json"], {**trained2d["overrides"], "bundle_root": str(tmp_path)})
    second = tmp_path / "runs" / "fold0"
    assert read_json(second / "summary.json") == read_json(first / "summary.json")
    a, b = network_state(first / "last.pt"), network_state(second / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    for part in ("train", "val", "test"):
        ids = [[r["subject_id"] for r in read_json(d / "split.json")[part]] for d in (first, second)]
        assert ids[0] == ids[1]


def test_other_seed_other_run(trained2d, tmp_path):
    run(["train.json"], {**trained2d["overrides"], "bundle_root": str(tmp_path), "seed": 1})
    a = network_state(trained2d["run_dir"] / "last.pt")
    b = network_state(tmp_path / "runs" / "fold0" / "last.pt")
    assert any(not torch.equal(a[k], b[k]) for k in a)
