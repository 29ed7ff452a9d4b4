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
"""Validation of the four table tensors every table encoder receives."""

from __future__ import annotations

import torch

__all__ = ["check_table_inputs"]


def _batch_size(*tensors: torch.Tensor | None) -> int:
    for t in tensors:
        if t is not None:
            return int(t.shape[0])
    raise ValueError("no table tensor given: pass numerical and/or categorical (with their masks)")


def _check(name: str, t: torch.Tensor | None, batch: int, n: int, default: float | None, owner: str,
           device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if t is None:
        if n and default is None:
            raise ValueError(f"{owner} expects {name} of shape (B, {n}), got None")
        return torch.full((batch, n), 0.0 if default is None else default, device=device, dtype=dtype)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{owner} expects {name} as a tensor of shape (B, {n}), got {type(t).__name__}")
    if t.ndim != 2 or t.shape[0] != batch or t.shape[1] != n:
        raise ValueError(f"{owner} expects {name} of shape (B={batch}, {n}), got {tuple(t.shape)}")
    return t.as_subclass(torch.Tensor) if type(t) is not torch.Tensor else t


def check_table_inputs(numerical: torch.Tensor | None, numerical_mask: torch.Tensor | None,
                       categorical: torch.Tensor | None, categorical_mask: torch.Tensor | None, *,
                       n_numerical: int, n_categorical: int, owner: str = "table encoder",
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check shapes and dtypes of the table tensors and fill the left-out ones.

    A left-out mask means "all observed"; a left-out ``numerical``/``categorical`` is allowed only when it has no
    columns. Returns ``numerical`` (float), ``numerical_mask`` (bool), ``categorical`` (int64),
    ``categorical_mask`` (bool), each (B, n).

    Example:
        >>> x, m, c, cm = check_table_inputs(torch.zeros(2, 3), None, None, None, n_numerical=3, n_categorical=0)
        >>> tuple(m.shape), m.dtype, tuple(c.shape)
        ((2, 3), torch.bool, (2, 0))
    """
    batch = _batch_size(numerical, categorical, numerical_mask, categorical_mask)
    ref = next(t for t in (numerical, categorical, numerical_mask, categorical_mask) if t is not None)
    device = ref.device
    x = _check("numerical", numerical, batch, n_numerical, None, owner, device, torch.float32)
    if not x.is_floating_point():
        x = x.float()
    x_mask = _check("numerical_mask", numerical_mask, batch, n_numerical, 1.0, owner, device, torch.float32)
    c = _check("categorical", categorical, batch, n_categorical, None, owner, device, torch.long)
    if n_categorical == 0:  # an empty (B, 0) tensor may come collated as float
        c = c.long()
    if c.is_floating_point() or c.is_complex() or c.dtype == torch.bool:
        raise TypeError(f"{owner} expects categorical as integer category indices (int64), got {c.dtype}")
    c_mask = _check("categorical_mask", categorical_mask, batch, n_categorical, 1.0, owner, device, torch.float32)
    return x, x_mask > 0.5, c.long(), c_mask > 0.5
