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
"""``create_classifier``: one bundle-config entry point for the image-only, table-only and fusion baselines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from monai_tabular.networks.nets.fusion import FusionClassifier
from monai_tabular.networks.nets.image import ImageClassifier
from monai_tabular.networks.nets.table import TableClassifier

__all__ = ["create_classifier", "CLASSIFIERS"]

CLASSIFIERS = ("image", "table", "fusion")


def create_classifier(
    *,
    model: str = "fusion",
    spatial_dims: int,
    in_channels: int,
    n_numerical: int,
    cardinalities: Sequence[int],
    out_channels: int,
    image_encoder: str = "resnet18",
    image_encoder_args: dict | None = None,
    table_encoder: str = "mlp",
    table_encoder_args: dict | None = None,
    dropout: float = 0.0,
    modality_dropout: float | dict = 0.0,
    hidden_dim: int = 128,
    fusion: str = "concat",
    fusion_args: dict | None = None,
    column_texts: Sequence[str] | None = None,
) -> torch.nn.Module:
    """Build the ``model`` baseline from one set of arguments (those a model does not use are ignored), so a
    bundle switches between image-only, table-only and fusion with ``--model image``. ``column_texts`` (one header
    text per attribute) reaches table encoders that take it (header-aware ones such as ``"sat"``) unless
    ``table_encoder_args`` sets it. ``fusion`` names the fusion of the ``"fusion"`` model in the fusion registry
    (``networks.fusion.list_fusions()``); ``modality_dropout`` is a rate or ``{"image": p, "table": q}``.

    Example:
        >>> net = create_classifier(model="table", spatial_dims=3, in_channels=1, n_numerical=2,
        ...                         cardinalities=[3], out_channels=2)
        >>> type(net).__name__
        'TableClassifier'
    """
    table_encoder_args = _with_column_texts(table_encoder, table_encoder_args, column_texts)
    if model == "image":
        return ImageClassifier(encoder=image_encoder, spatial_dims=spatial_dims, in_channels=in_channels,
                               out_channels=out_channels, encoder_args=image_encoder_args, dropout=dropout)
    if model == "table":
        return TableClassifier(encoder=table_encoder, n_numerical=n_numerical, cardinalities=list(cardinalities),
                               out_channels=out_channels, encoder_args=table_encoder_args, dropout=dropout)
    if model == "fusion":
        return FusionClassifier(image_encoder=image_encoder, table_encoder=table_encoder, spatial_dims=spatial_dims,
                                in_channels=in_channels, n_numerical=n_numerical,
                                cardinalities=list(cardinalities), out_channels=out_channels,
                                image_encoder_args=image_encoder_args, table_encoder_args=table_encoder_args,
                                hidden_dim=hidden_dim, dropout=dropout, modality_dropout=modality_dropout,
                                fusion=fusion, fusion_args=fusion_args)
    raise ValueError(f"unknown model {model!r}; choose one of {list(CLASSIFIERS)}")


def _with_column_texts(name: str, args: dict | None, column_texts: Sequence[str] | None) -> dict | None:
    import inspect

    from monai_tabular.networks.registry import get_encoder_class

    if column_texts is None or (args and ("column_texts" in args or "header_embeddings" in args)):
        return args
    if "column_texts" not in inspect.signature(get_encoder_class(name)).parameters:
        return args
    return {**(args or {}), "column_texts": list(column_texts)}
