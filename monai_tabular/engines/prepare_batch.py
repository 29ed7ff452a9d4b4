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
"""Move a whole batch dict (image(s) and every table tensor) to the device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["to_device", "PrepareTabularBatch"]


def to_device(value: Any, device: torch.device | str | None, *, non_blocking: bool = False, **kwargs: Any) -> Any:
    """Recursively move tensors in dicts/lists/tuples to ``device``; other values are returned unchanged.

    Example:
        >>> to_device({"numerical": torch.zeros(2, 3), "subject_id": ["a", "b"]}, "cpu")["numerical"].device
        device(type='cpu')
    """
    if isinstance(value, torch.Tensor):
        return value.to(device=device, non_blocking=non_blocking, **kwargs) if device is not None else value
    if isinstance(value, Mapping):
        return {k: to_device(v, device, non_blocking=non_blocking, **kwargs) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        moved = [to_device(v, device, non_blocking=non_blocking, **kwargs) for v in value]
        return type(value)(moved) if isinstance(value, tuple) else moved
    return value


class PrepareTabularBatch:
    """``prepare_batch`` for MONAI/ignite engines: returns ``(batch_dict_on_device, label_or_None)``.

    Unlike MONAI's ``PrepareBatchExtraInput``, every tensor of the dict moves, nested ones included, so networks
    receive ``image``, ``numerical``, ``numerical_mask``, ``categorical``, ``categorical_mask`` (and anything a
    method adds) on the device.

    Args:
        label_key: key of the target; a batch without it (inference) gives ``None``.

    Example:
        >>> prepare = PrepareTabularBatch()
        >>> inputs, label = prepare({"image": torch.zeros(1, 1, 4, 4), "label": torch.tensor([1])}, "cpu")
        >>> label.tolist()
        [1]
    """

    def __init__(self, label_key: str = "label") -> None:
        self.label_key = label_key

    def __call__(self, batchdata: Mapping[str, Any], device: torch.device | str | None = None,
                 non_blocking: bool = False, **kwargs: Any) -> tuple[dict[str, Any], torch.Tensor | None]:
        if not isinstance(batchdata, Mapping):
            raise TypeError(f"PrepareTabularBatch expects a dict batch, got {type(batchdata).__name__}")
        inputs = to_device(dict(batchdata), device, non_blocking=non_blocking, **kwargs)
        return inputs, inputs.get(self.label_key)
