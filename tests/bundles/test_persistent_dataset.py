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
"""Large cohorts: the baseline bundle trains with MONAI's ``PersistentDataset`` given as an override of
``train#dataset`` / ``validate#dataset`` (the override documented in docs/large_cohorts.md)."""

from __future__ import annotations

import pytest

from tests.bundles.bundle_helpers import read_json, run, tiny

pytestmark = pytest.mark.filterwarnings("ignore:parsing config_file:UserWarning")


def persistent_overrides(cache_dir: str) -> dict:
    """The overrides of docs/large_cohorts.md: deterministic transforms cached on disk, augmentations re-run."""
    return {
        "train#dataset": {"_target_": "PersistentDataset", "data": "$@data.train",
                          "transform": "@train#preprocessing", "cache_dir": cache_dir},
        "validate#dataset": {"_target_": "PersistentDataset", "data": "$@data.val",
                             "transform": "@validate#preprocessing", "cache_dir": cache_dir},
    }


def test_baseline_trains_with_persistent_dataset(tmp_path):
    cache = tmp_path / "persistent_cache"
    overrides = tiny(tmp_path, spatial_dims=2, epochs=2, **persistent_overrides(str(cache)))
    overrides["synthetic"]["root"] = str(tmp_path / "cohort")  # both runs read the same image files
    run(["train.json"], overrides)
    run_dir = tmp_path / "runs" / "fold0"
    split = read_json(run_dir / "split.json")
    cached = list(cache.glob("*.pt"))
    # one cached file per training and validation subject (the two parts share the cache folder)
    assert len(cached) == len(split["train"]) + len(split["val"])
    summary = read_json(run_dir / "summary.json")
    assert (run_dir / "model.pt").is_file() and 1 <= summary["best_metric_epoch"] <= 2
    before = {p: p.stat().st_mtime_ns for p in cached}
    run(["train.json"], {**overrides, "output_dir": str(tmp_path / "again"), "epochs": 1})
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.pt")} == before  # second run reads, never rewrites
