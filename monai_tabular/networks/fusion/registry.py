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
"""A registry of image-table fusion modules, so networks and bundle configs can name a fusion by a string.

Every fusion module is built with the keyword-only arguments ``image_dim``, ``table_dim``, ``out_dim`` and
``spatial_dims`` (plus its own options), has the attribute ``needs_image_map`` and is called as
``fusion(image_features, table_features, image_present=..., table_present=..., image_map=None,
table_tokens=None) -> (B, out_dim)``; see :class:`~monai_tabular.networks.fusion.base.FusionBase`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["UnknownFusionError", "register_fusion", "unregister_fusion", "create_fusion", "list_fusions",
           "get_fusion_class"]

# name -> class or factory; filled by ``register_fusion``.
_FUSIONS: dict[str, Callable[..., nn.Module]] = {}


class UnknownFusionError(KeyError, ValueError):
    """A fusion name that is not registered; catchable as ``KeyError`` or ``ValueError``.

    The message lists the registered names.
    """

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


def register_fusion(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a fusion module class (or factory) under ``name`` (case-insensitive).

    Raises:
        ValueError: ``name`` is already registered for another object.

    Example:
        >>> from torch import nn
        >>> @register_fusion("doc_fusion")
        ... class DocFusion(nn.Module):
        ...     needs_image_map = False
        ...     def __init__(self, *, image_dim, table_dim, out_dim, spatial_dims=None):
        ...         super().__init__()
        >>> "doc_fusion" in list_fusions()
        True
        >>> unregister_fusion("doc_fusion")
    """
    key = str(name).lower()

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        known = _FUSIONS.get(key)
        same = known is not None and getattr(known, "__qualname__", None) == getattr(factory, "__qualname__", 0) \
            and getattr(known, "__module__", None) == getattr(factory, "__module__", 0)
        if known is not None and not same:
            raise ValueError(f"fusion name {key!r} is already registered ({known!r})")
        _FUSIONS[key] = factory
        return factory

    return decorator


def unregister_fusion(name: str) -> None:
    """Remove ``name`` from the registry (for tests and interactive sessions); unknown names are ignored."""
    _FUSIONS.pop(str(name).lower(), None)


def list_fusions() -> list[str]:
    """Sorted names of the registered fusion modules.

    Example:
        >>> {"concat", "late_average", "gated_attention", "daft", "cross_attention"} <= set(list_fusions())
        True
    """
    return sorted(_FUSIONS)


def get_fusion_class(name: str) -> Callable[..., nn.Module]:
    """The class (or factory) registered under ``name``.

    Raises:
        UnknownFusionError: ``name`` is not registered (the message lists the known names).

    Example:
        >>> get_fusion_class("concat").__name__
        'ConcatFusion'
    """
    key = str(name).lower()
    if key not in _FUSIONS:
        raise UnknownFusionError(f"unknown fusion {name!r}; known fusions: {list_fusions()}")
    return _FUSIONS[key]


def create_fusion(name: str, **kwargs: Any) -> nn.Module:
    """Create the fusion module ``name`` with keyword arguments (``image_dim``, ``table_dim``, ``out_dim``, ...).

    Raises:
        UnknownFusionError: ``name`` is not registered (the message lists the known names).

    Example:
        >>> create_fusion("late_average", image_dim=8, table_dim=4, out_dim=2).needs_image_map
        False
    """
    return get_fusion_class(name)(**kwargs)
