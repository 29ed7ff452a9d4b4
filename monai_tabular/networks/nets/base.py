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
"""Shared pieces of the classifiers: the ``mode`` attribute and reading the batch dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.registry import create_encoder, get_encoder_kind

__all__ = ["MODES", "TABLE_KEYS", "ModeMixin", "build_encoder", "get_image", "get_table", "get_presence",
           "batch_size", "check_head_args"]

MODES = ("both", "image_only", "table_only")
TABLE_KEYS = ("numerical", "numerical_mask", "categorical", "categorical_mask")


class ModeMixin:
    """A validated ``mode`` attribute ("both", "image_only", "table_only"), settable after construction.

    Subclasses set ``allowed_modes`` to the modes they can run.
    """

    allowed_modes: tuple[str, ...] = MODES

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"{type(self).__name__}: mode must be one of {list(MODES)}, got {value!r}")
        if value not in self.allowed_modes:
            raise ValueError(f"{type(self).__name__} has no {value.split('_')[0]} branch: mode must be one of "
                             f"{list(self.allowed_modes)}, got {value!r}")
        self._mode = value


def build_encoder(name: str, kind: str, owner: str, args: Mapping[str, Any] | None, **required: Any) -> nn.Module:
    """Create encoder ``name`` from the registry, checking that it is an encoder of ``kind``."""
    got = get_encoder_kind(name)
    if got != kind:
        raise ValueError(f"{owner} needs a {kind} encoder, but {name!r} is a {got} encoder")
    args = dict(args or {})
    clash = sorted(set(args) & set(required))
    if clash:
        raise ValueError(f"{owner}: pass {clash} as {owner} arguments, not inside the encoder arguments")
    return create_encoder(name, **required, **args)


def check_head_args(owner: str, out_channels: int, dropout: float) -> None:
    if int(out_channels) < 1:
        raise ValueError(f"{owner}: out_channels must be >= 1 (classes, or 1 for regression), got {out_channels!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout!r}")


def _require(batch: Mapping[str, Any], key: str, owner: str) -> Any:
    if not isinstance(batch, Mapping):
        raise TypeError(f"{owner} expects the batch dict, got {type(batch).__name__}")
    if key not in batch or batch[key] is None:
        raise KeyError(f"{owner}: the batch has no {key!r}; keys present: {sorted(map(str, batch))}")
    return batch[key]


def get_image(batch: Mapping[str, Any], owner: str) -> torch.Tensor:
    """``batch["image"]``, or a ``KeyError`` listing the keys present."""
    return _require(batch, "image", owner)


def get_table(batch: Mapping[str, Any], owner: str) -> dict[str, torch.Tensor | None]:
    """The four table tensors of ``batch`` (``None`` for those left out); ``KeyError`` when there is no table."""
    if not isinstance(batch, Mapping):
        raise TypeError(f"{owner} expects the batch dict, got {type(batch).__name__}")
    table = {k: batch.get(k) for k in TABLE_KEYS}
    if table["numerical"] is None and table["categorical"] is None:
        raise KeyError(f"{owner}: the batch has neither 'numerical' nor 'categorical'; "
                       f"keys present: {sorted(map(str, batch))}")
    return table


def batch_size(batch: Mapping[str, Any]) -> int:
    """The batch size, read from the image or the table tensors."""
    for key in ("image",) + TABLE_KEYS:
        value = batch.get(key)
        if isinstance(value, torch.Tensor) and value.ndim > 0:
            return int(value.shape[0])
    raise KeyError(f"cannot tell the batch size: no image or table tensor; keys present: {sorted(map(str, batch))}")


def get_presence(batch: Mapping[str, Any], key: str, size: int, device: torch.device) -> torch.Tensor:
    """``batch[key]`` (B,) as a bool tensor (True = present); all present when the key is absent."""
    value = batch.get(key)
    if value is None:
        return torch.ones(size, dtype=torch.bool, device=device)
    flags = torch.as_tensor(value, device=device).reshape(-1)
    if flags.numel() != size:
        raise ValueError(f"{key} must have one flag per sample (shape ({size},)), got shape {tuple(flags.shape)}")
    return flags > 0.5 if flags.is_floating_point() else flags.bool()
