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
"""Encoder registry: names, kinds, clear errors; the layer rule of ``monai_tabular.networks``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from torch import nn

import monai_tabular.networks as networks
from monai_tabular.networks import (UnknownEncoderError, create_encoder, get_encoder_kind, list_encoders,
                                    register_encoder, unregister_encoder)


def test_builtin_encoders_listed_by_kind():
    assert {"resnet10", "resnet18", "resnet34", "resnet50"} <= set(list_encoders("image"))
    assert "mlp" in list_encoders("table")
    assert sorted(list_encoders()) == sorted(list_encoders("image") + list_encoders("table"))
    assert get_encoder_kind("ResNet18") == "image" and get_encoder_kind("mlp") == "table"
    with pytest.raises(ValueError, match="kind"):
        list_encoders("audio")


def test_unknown_name_lists_known_names():
    for exc in (KeyError, ValueError):
        with pytest.raises(exc) as info:
            create_encoder("resnet19", spatial_dims=2, in_channels=1)
        message = str(info.value)
        assert "resnet19" in message and all(name in message for name in list_encoders())
    assert isinstance(info.value, UnknownEncoderError)
    assert not message.startswith('"')  # not KeyError's quoted repr


def test_register_create_and_conflicts():
    @register_encoder("test_reg_table", kind="table")
    class Tiny(nn.Module):
        def __init__(self, *, n_numerical, cardinalities, width=3):
            super().__init__()
            self.feature_dim, self.stage_dims = width, [width]

    try:
        enc = create_encoder("test_reg_table", n_numerical=1, cardinalities=[], width=5)
        assert isinstance(enc, Tiny) and enc.feature_dim == 5
        with pytest.raises(ValueError, match="already registered"):
            register_encoder("test_reg_table", kind="table")(nn.Identity)
        with pytest.raises(ValueError, match="spatial_dims"):
            create_encoder("test_reg_table", spatial_dims=2, n_numerical=1, cardinalities=[])
    finally:
        unregister_encoder("test_reg_table")
    assert "test_reg_table" not in list_encoders()
    with pytest.raises(ValueError, match="kind"):
        register_encoder("x", kind="video")


def test_image_encoder_needs_spatial_dims_and_channels():
    with pytest.raises(ValueError, match="spatial_dims and in_channels"):
        create_encoder("resnet10", in_channels=1)


def test_layer_rule_networks_import_no_data_engines_transforms():
    root = Path(networks.__file__).parent
    forbidden = ("monai_tabular.data", "monai_tabular.engines", "monai_tabular.transforms", "torchvision", "timm")
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
