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
"""``to_device`` and ``PrepareTabularBatch``: nested tensors move, strings stay, no label -> ``None``."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.engines import PrepareTabularBatch, to_device


def _batch() -> dict:
    return {
        "image": torch.zeros(2, 1, 4, 4),
        "numerical": torch.ones(2, 3),
        "extra": {"nested": [torch.arange(2), (torch.ones(1), "text")], "flag": True},
        "subject_id": ["sub-0000", "sub-0001"],
        "name": "cohort",
        "label": torch.tensor([0, 1]),
    }


def test_to_device_moves_nested_tensors_and_keeps_other_values():
    moved = to_device(_batch(), "meta")
    assert moved["image"].device.type == "meta"
    assert moved["numerical"].device.type == "meta"
    nested = moved["extra"]["nested"]
    assert isinstance(nested, list) and nested[0].device.type == "meta"
    assert isinstance(nested[1], tuple)  # the container type is kept
    assert nested[1][0].device.type == "meta" and nested[1][1] == "text"
    assert moved["extra"]["flag"] is True
    assert moved["subject_id"] == ["sub-0000", "sub-0001"]
    assert moved["name"] == "cohort"  # a string is not split into characters


def test_to_device_none_device_and_dtype_kwargs():
    batch = _batch()
    same = to_device(batch, None)
    assert same["image"] is batch["image"]
    cast = to_device({"x": torch.ones(2)}, "cpu", dtype=torch.float64)
    assert cast["x"].dtype == torch.float64


def test_prepare_batch_returns_dict_and_label():
    inputs, label = PrepareTabularBatch()(_batch(), "meta")
    assert set(inputs) == set(_batch())
    assert inputs["numerical"].device.type == "meta"
    assert inputs["subject_id"] == ["sub-0000", "sub-0001"]
    assert label is inputs["label"] and label.device.type == "meta"


def test_prepare_batch_without_label_gives_none():
    batch = _batch()
    del batch["label"]
    inputs, label = PrepareTabularBatch()(batch, torch.device("cpu"))
    assert label is None
    assert torch.equal(inputs["numerical"], torch.ones(2, 3))


def test_prepare_batch_custom_label_key_and_non_dict():
    batch = _batch()
    batch["target"] = torch.tensor([3.0, 4.0])
    _, label = PrepareTabularBatch(label_key="target")(batch, "cpu")
    assert label.tolist() == [3.0, 4.0]
    with pytest.raises(TypeError, match="dict batch"):
        PrepareTabularBatch()([torch.zeros(1)], "cpu")
