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
"""``FusionBase``: argument checks and presence-mask helpers shared by the fusion modules (tensors only)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FusionBase"]


def _positive(owner: str, name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


class FusionBase(nn.Module):
    """Base class of the fusion modules: keyword-only ``image_dim``, ``table_dim``, ``out_dim``, ``spatial_dims``.

    Subclasses implement ``forward(image_features, table_features, *, image_present, table_present,
    image_map=None, table_tokens=None) -> (B, out_dim)`` and start it with :meth:`check_inputs`, which
    validates the shapes, returns the presence masks and replaces the rows of an absent modality by zeros.
    Those zeros only keep garbage (NaN, inf) out of the arithmetic: every fusion then replaces the absent
    modality by a learned embedding or drops it from the combination, so they are never treated as data.

    Args:
        image_dim: width of the pooled image features.
        table_dim: width of the pooled table features.
        out_dim: width of the fused output.
        spatial_dims: 2 or 3, or ``None`` (checked against ``image_map`` when given).

    Example:
        >>> base = FusionBase(image_dim=4, table_dim=3, out_dim=2)
        >>> img, tab, ip, tp, _, _ = base.check_inputs(torch.ones(2, 4), torch.ones(2, 3),
        ...                                      torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]))
        >>> img[1].tolist(), ip.tolist()
        ([0.0, 0.0, 0.0, 0.0], [1.0, 0.0])
    """

    needs_image_map: bool = False

    def __init__(self, *, image_dim: int, table_dim: int, out_dim: int, spatial_dims: int | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.image_dim = _positive(name, "image_dim", image_dim)
        self.table_dim = _positive(name, "table_dim", table_dim)
        self.out_dim = _positive(name, "out_dim", out_dim)
        if spatial_dims is not None and spatial_dims not in (2, 3):
            raise ValueError(f"{name}: spatial_dims must be 2, 3 or None, got {spatial_dims!r}")
        self.spatial_dims = spatial_dims

    @staticmethod
    def fill_absent(x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """``x`` (B, ...) with the rows of absent samples set to zero (``present`` (B,) bool)."""
        keep = present.reshape(-1, *([1] * (x.ndim - 1)))
        return torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))

    def _flags(self, value: torch.Tensor | None, key: str, size: int, device: torch.device) -> torch.Tensor:
        if value is None:
            raise ValueError(f"{type(self).__name__}: {key} is required (a (B,) tensor of 1/0 flags)")
        flags = torch.as_tensor(value, device=device).reshape(-1)
        if flags.numel() != size:
            raise ValueError(f"{type(self).__name__}: {key} must have one flag per sample (shape ({size},)), "
                             f"got shape {tuple(torch.as_tensor(value).shape)}")
        return flags > 0.5 if flags.is_floating_point() else flags.bool()

    def check_inputs(self, image_features: torch.Tensor, table_features: torch.Tensor, image_present: torch.Tensor,
                     table_present: torch.Tensor, image_map: torch.Tensor | None = None,
                     table_tokens: torch.Tensor | None = None) -> tuple[torch.Tensor | None, ...]:
        """Validate the inputs; return ``(image_features, table_features, image_present, table_present, image_map,
        table_tokens)`` -- tensors with the rows of absent samples zeroed (``None`` stays ``None``), presence as
        float (B,) masks of 1/0.

        Raises:
            ValueError: wrong shapes, or a sample with neither modality present.
        """
        name = type(self).__name__
        if image_features.ndim != 2 or image_features.shape[1] != self.image_dim:
            raise ValueError(f"{name}: image_features must be (B, {self.image_dim}), "
                             f"got {tuple(image_features.shape)}")
        size = image_features.shape[0]
        if table_features.shape != (size, self.table_dim):
            raise ValueError(f"{name}: table_features must be ({size}, {self.table_dim}), "
                             f"got {tuple(table_features.shape)}")
        ip = self._flags(image_present, "image_present", size, image_features.device)
        tp = self._flags(table_present, "table_present", size, image_features.device)
        neither = ~(ip | tp)
        if bool(neither.any()):
            raise ValueError(f"{name}: samples {neither.nonzero().flatten().tolist()} have neither the image nor "
                             "the table; every sample needs at least one modality")
        out = [self.fill_absent(image_features, ip), self.fill_absent(table_features.to(image_features.dtype), tp),
               ip.to(image_features.dtype), tp.to(image_features.dtype)]
        if image_map is not None:
            if image_map.ndim not in (4, 5) or image_map.shape[0] != size or (
                    self.spatial_dims is not None and image_map.ndim != self.spatial_dims + 2):
                want = "(B, C, *spatial) with 2 or 3" if self.spatial_dims is None else \
                    f"(B, C, *spatial) with {self.spatial_dims}"
                raise ValueError(f"{name}: image_map must be {want} spatial dims and B={size}, "
                                 f"got {tuple(image_map.shape)}")
            image_map = self.fill_absent(image_map.to(image_features.dtype), ip)
        if table_tokens is not None:
            if table_tokens.ndim != 3 or table_tokens.shape[0] != size:
                raise ValueError(f"{name}: table_tokens must be ({size}, n_attr, d), got {tuple(table_tokens.shape)}")
            table_tokens = self.fill_absent(table_tokens.to(image_features.dtype), tp)
        return (*out, image_map, table_tokens)

    def require_map(self, image_map: torch.Tensor | None, image_present: torch.Tensor) -> None:
        """``ValueError`` when a sample has an image but ``image_map`` is not given."""
        if image_map is None and bool((image_present > 0.5).any()):
            raise ValueError(f"{type(self).__name__} needs image_map (B, C, *spatial) when any image is present")
