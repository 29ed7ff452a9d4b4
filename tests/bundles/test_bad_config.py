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
"""Bad settings fail with a message (somewhere in the cause chain) that names what is wrong."""

from __future__ import annotations

import pytest

from monai_tabular.engines import run_bundle
from tests.bundles.bundle_helpers import BUNDLE, error_messages, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


def test_missing_csv_is_named(tmp_path):
    missing = tmp_path / "no_such_dir" / "table.csv"
    with pytest.raises(Exception) as info:
        run(["train.json"], tiny(tmp_path, epochs=1, csv=str(missing)))
    messages = error_messages(info.value)
    assert any(str(missing) in m and "does not exist" in m for m in messages), messages
    assert any(m.startswith("FileNotFoundError") for m in messages), messages


def test_unknown_image_encoder_lists_known_ones(tmp_path):
    with pytest.raises(Exception) as info:
        run(["train.json"], tiny(tmp_path, epochs=1, image_encoder="nope"))
    messages = error_messages(info.value)
    assert any("'nope'" in m and "resnet18" in m and "resnet10" in m for m in messages), messages
    assert not (tmp_path / "runs" / "fold0" / "model.pt").exists()


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nonexistent.json"):
        run_bundle(BUNDLE, ["train.json", "nonexistent.json"], tiny(tmp_path))


def test_evaluate_before_training_says_train_first(tmp_path):
    with pytest.raises(Exception) as info:
        run(["train.json", "evaluate.json"], tiny(tmp_path))
    assert any("train this fold first" in m for m in error_messages(info.value))
