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
"""Input conversion shared by the metric modules: tensors, Series and lists to numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["to_numpy", "as_binary_labels"]


def to_numpy(x: Any, *, dtype: Any = None) -> np.ndarray:
    """A numpy array from a numpy array, list, pandas object or torch tensor (detached, moved to CPU).

    Example:
        >>> to_numpy([0, 1, 1]).tolist()
        [0, 1, 1]
    """
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    elif hasattr(x, "to_numpy"):  # pandas Series / DataFrame
        x = x.to_numpy()
    return np.asarray(x, dtype=dtype)


def as_binary_labels(y_true: Any) -> np.ndarray:
    """``y_true`` as a 1-D int array of 0/1 (1 = positive); raises ``ValueError`` on any other value.

    Example:
        >>> as_binary_labels([True, False]).tolist()
        [1, 0]
    """
    y = to_numpy(y_true).reshape(-1)
    if y.dtype == bool:
        return y.astype(np.int64)
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"binary labels must be 0/1 (1 = positive), got values {np.unique(y)[:10].tolist()}")
    return y.astype(np.int64)
