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
"""Fixtures of the CLI tests: a small 2D synthetic cohort and a project trained once on it, renamed."""

from __future__ import annotations

import pytest
from tests.cli.cli_helpers import TINY, one_torch_thread, renamed_table


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def cli_cohort(tmp_path_factory):
    from monai_tabular.data.synthetic import make_synthetic_cohort

    return make_synthetic_cohort(tmp_path_factory.mktemp("cli_cohort"), n_subjects=40, spatial_dims=2,
                                 image_size=(16, 16), seed=0)


@pytest.fixture(scope="session")
def trained_project(cli_cohort, tmp_path_factory):
    """``init`` + ``train`` once on the renamed table (images relative to --image-root); shared by later tests."""
    from monai_tabular.cli.main import main

    base = tmp_path_factory.mktemp("cli_project")
    csv = renamed_table(cli_cohort, base / "data" / "table.csv", absolute_images=False)
    project = base / "project"
    args = ["--csv", str(csv), "--label", "diagnosis", "--subject-id", "patient", "--image-root",
            str(cli_cohort.root), "--output", str(project)]
    with one_torch_thread():
        assert main(["init", *args]) == 0
        assert main(["train", "--config", str(project / "config.json"), *TINY]) == 0
    return {"base": base, "csv": csv, "project": project, "run_dir": project / "runs" / "fold0"}
