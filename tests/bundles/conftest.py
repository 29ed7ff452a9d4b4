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
"""Fixtures of the bundle tests: a 2D fusion run trained once per session."""

from __future__ import annotations

import pytest

from tests.bundles.bundle_helpers import run, tiny


@pytest.fixture(scope="session")
def trained2d(tmp_path_factory):
    """``train.json`` for 2 epochs on the tiny 2D cohort (fusion); evaluation and inference tests reuse it."""
    root = tmp_path_factory.mktemp("bundle_trained2d")
    overrides = tiny(root, spatial_dims=2, epochs=2)
    run(["train.json"], overrides)
    return {"root": root, "run_dir": root / "runs" / "fold0", "overrides": overrides}
