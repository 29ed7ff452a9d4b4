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
"""One registry for image and table encoders, so networks and bundle configs can name an encoder by a string.

Image encoders are built with ``spatial_dims`` and ``in_channels``; table encoders with ``n_numerical`` and
``cardinalities`` (categorical cardinalities including the unknown index 0). Every encoder has
``forward_features(...) -> list[Tensor]``, ``forward(...) -> Tensor (B, feature_dim)`` and the attributes
``feature_dim`` and ``stage_dims``. Image encoders take the image batch (B, in_channels, *spatial); table
encoders take the keyword arguments ``numerical``, ``numerical_mask``, ``categorical``, ``categorical_mask``
(each (B, n) or ``None``; a left-out mask means all observed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["ENCODER_KINDS", "UnknownEncoderError", "register_encoder", "unregister_encoder", "create_encoder",
           "list_encoders", "get_encoder_kind"]

ENCODER_KINDS = ("image", "table")

# name -> (kind, factory); filled by ``register_encoder``.
_ENCODERS: dict[str, tuple[str, Callable[..., nn.Module]]] = {}
_BUILTINS_LOADED = False


class UnknownEncoderError(KeyError, ValueError):
    """An encoder name that is not registered; catchable as ``KeyError`` or ``ValueError``.

    The message lists the registered names (of the requested kind).
    """

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


def _load_builtins() -> None:
    """Import the built-in encoders once, so that they are registered before any lookup."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        importlib.import_module("monai_tabular.networks.encoders")


def _check_kind(kind: str | None, allow_none: bool = False) -> None:
    if kind is None and allow_none:
        return
    if kind not in ENCODER_KINDS:
        raise ValueError(f"encoder kind must be one of {list(ENCODER_KINDS)}, got {kind!r}")


def register_encoder(name: str, *, kind: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering an encoder class or factory under ``name`` (case-insensitive).

    Args:
        name: registry name, e.g. ``"resnet18"``.
        kind: ``"image"`` (created with ``spatial_dims``, ``in_channels``) or ``"table"`` (created with
            ``n_numerical``, ``cardinalities``).

    Raises:
        ValueError: unknown kind, or ``name`` already registered for another object.

    Example:
        >>> from torch import nn
        >>> @register_encoder("doc_identity_table", kind="table")
        ... class Identity(nn.Module):
        ...     def __init__(self, *, n_numerical, cardinalities):
        ...         super().__init__()
        >>> "doc_identity_table" in list_encoders("table")
        True
        >>> unregister_encoder("doc_identity_table")
    """
    _check_kind(kind)
    key = str(name).lower()

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        known = _ENCODERS.get(key)
        same = known is not None and getattr(known[1], "__qualname__", None) == getattr(factory, "__qualname__", 0) \
            and getattr(known[1], "__module__", None) == getattr(factory, "__module__", 0)
        if known is not None and not same:
            raise ValueError(f"encoder name {key!r} is already registered ({known[0]} encoder {known[1]!r})")
        _ENCODERS[key] = (kind, factory)
        return factory

    return decorator


def unregister_encoder(name: str) -> None:
    """Remove ``name`` from the registry (for tests and interactive sessions); unknown names are ignored."""
    _ENCODERS.pop(str(name).lower(), None)


def list_encoders(kind: str | None = None) -> list[str]:
    """Sorted names of the registered encoders, optionally only those of one ``kind`` ("image" or "table").

    Example:
        >>> "resnet18" in list_encoders("image"), "mlp" in list_encoders("table")
        (True, True)
    """
    _check_kind(kind, allow_none=True)
    _load_builtins()
    return sorted(n for n, (k, _) in _ENCODERS.items() if kind is None or k == kind)


def get_encoder_kind(name: str) -> str:
    """The kind ("image" or "table") of the registered encoder ``name``.

    Raises:
        UnknownEncoderError: ``name`` is not registered (the message lists the known names).

    Example:
        >>> get_encoder_kind("mlp")
        'table'
    """
    _load_builtins()
    key = str(name).lower()
    if key not in _ENCODERS:
        raise UnknownEncoderError(f"unknown encoder {name!r}; known encoders: {list_encoders()}")
    return _ENCODERS[key][0]


def get_encoder_class(name: str) -> Callable[..., nn.Module]:
    """The class (or factory) registered as ``name``; :class:`UnknownEncoderError` lists the known names.

    Example:
        >>> get_encoder_class("mlp").__name__
        'TableMLP'
    """
    get_encoder_kind(name)
    return _ENCODERS[str(name).lower()][1]


def create_encoder(name: str, *, spatial_dims: int | None = None, in_channels: int | None = None,
                   **kwargs: Any) -> nn.Module:
    """Create the registered encoder ``name``.

    Args:
        name: registry name (see :func:`list_encoders`).
        spatial_dims: 2 or 3; required for image encoders, must be left out for table encoders.
        in_channels: image channels; required for image encoders, must be left out for table encoders.
        kwargs: the encoder's own arguments; table encoders need ``n_numerical`` and ``cardinalities``.

    Raises:
        UnknownEncoderError: ``name`` is not registered (a ``KeyError`` and ``ValueError``; lists known names).
        ValueError: image encoder without ``spatial_dims``/``in_channels``, or table encoder given them.

    Example:
        >>> enc = create_encoder("mlp", n_numerical=2, cardinalities=[3], hidden_dims=[8])
        >>> enc.feature_dim
        8
    """
    kind = get_encoder_kind(name)
    factory = _ENCODERS[str(name).lower()][1]
    if kind == "image":
        if spatial_dims is None or in_channels is None:
            raise ValueError(f"image encoder {name!r} needs spatial_dims and in_channels, "
                             f"got spatial_dims={spatial_dims!r}, in_channels={in_channels!r}")
        return factory(spatial_dims=spatial_dims, in_channels=in_channels, **kwargs)
    if spatial_dims is not None or in_channels is not None:
        raise ValueError(f"table encoder {name!r} takes n_numerical and cardinalities, not spatial_dims/in_channels "
                         f"(got spatial_dims={spatial_dims!r}, in_channels={in_channels!r})")
    return factory(**kwargs)
