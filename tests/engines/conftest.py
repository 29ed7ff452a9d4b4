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
"""Fixtures of the engine tests: small 2D synthetic cohorts built once per module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def cohort40(tmp_path_factory):
    from monai_tabular.data.synthetic import make_synthetic_cohort

    return make_synthetic_cohort(tmp_path_factory.mktemp("engines_cohort40"), n_subjects=40, spatial_dims=2,
                                 image_size=(16, 16), seed=0)
