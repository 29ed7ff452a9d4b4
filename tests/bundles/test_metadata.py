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
"""Every bundle's ``configs/metadata.json`` validates offline against ``schemas/bundle_meta_schema.json``."""

from __future__ import annotations

import json

import pytest
from monai.bundle import verify_metadata

from tests.bundles.bundle_helpers import REPO

pytestmark = pytest.mark.filterwarnings("ignore:No hash value provided:UserWarning")

SCHEMA = REPO / "schemas" / "bundle_meta_schema.json"
BUNDLES = sorted(p.parent.parent for p in (REPO / "bundles").glob("*/configs/metadata.json"))


def test_there_are_bundles():
    assert BUNDLES, "no bundles/*/configs/metadata.json found"
    assert SCHEMA.is_file()


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
def test_metadata_is_valid_offline(bundle):
    before = SCHEMA.read_bytes()
    verify_metadata(meta_file=str(bundle / "configs" / "metadata.json"), filepath=str(SCHEMA))
    assert SCHEMA.read_bytes() == before  # the local schema was used, not replaced by a download
    metadata = json.loads((bundle / "configs" / "metadata.json").read_text())
    assert metadata["version"] in metadata["changelog"]


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
@pytest.mark.parametrize("key", ["version", "network_data_format", "copyright"])
def test_metadata_missing_a_required_key_fails(bundle, key, tmp_path):
    metadata = json.loads((bundle / "configs" / "metadata.json").read_text())
    del metadata[key]
    broken = tmp_path / "metadata.json"
    broken.write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match=f"'{key}' is a required property"):
        verify_metadata(meta_file=str(broken), filepath=str(SCHEMA))


def test_metadata_with_a_bad_version_fails(tmp_path):
    metadata = json.loads((BUNDLES[0] / "configs" / "metadata.json").read_text())
    metadata["version"] = "one"
    broken = tmp_path / "metadata.json"
    broken.write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="'one' does not match"):
        verify_metadata(meta_file=str(broken), filepath=str(SCHEMA))
