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
"""GAAL network: unimodal encoders (an image and one or more table views) and ONE shared classifier psi.

Gradient-Aligned Alternating Learning trains each modality in turn through the same classifier; the network only
provides the pieces the alternating step (``monai_tabular.engines.gaal``) needs: :meth:`GAALNetwork.encode` (one
modality's branch: encoder + projection to the shared width), :attr:`GAALNetwork.classifier` (psi) and
:meth:`GAALNetwork.presence`. Its ``forward`` is the inference rule: the average of the unimodal logits over the
modalities a sample has (softmax is applied downstream), restricted by ``mode``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.nets.base import (ModeMixin, batch_size, build_encoder, check_head_args, get_image,
                                              get_presence, get_table)
from monai_tabular.networks.registry import get_encoder_class

__all__ = ["GAALNetwork", "table_views_by_prefix", "IMAGE", "TABLE"]

IMAGE = "image"
TABLE = "table"


def table_views_by_prefix(*, numerical: Sequence[str], categorical: Sequence[str] = (),
                          prefixes: Sequence[str]) -> dict[str, dict[str, list[int]]]:
    """Table views from column-name prefixes: view ``p`` holds the columns named ``p`` or ``p_<anything>``.

    The result is what :class:`GAALNetwork` takes as ``table_views``: per view, the indices of its columns in the
    numerical and categorical tensors (schema order). Every column must fall in exactly one view.

    Args:
        numerical: numerical column names in schema order (``schema.numerical``).
        categorical: categorical column names in schema order (``schema.categorical``).
        prefixes: view names, e.g. mfeat's ``["fou", "fac", "kar", "zer", "mor"]``.

    Raises:
        ValueError: a prefix that matches no column, a column in two views, or a column in none.

    Example:
        >>> table_views_by_prefix(numerical=["fou_0", "fou_1", "mor_0"], prefixes=["fou", "mor"])
        {'fou': {'numerical': [0, 1], 'categorical': []}, 'mor': {'numerical': [2], 'categorical': []}}
    """
    prefixes = [str(p) for p in prefixes]
    if not prefixes or len(set(prefixes)) != len(prefixes):
        raise ValueError(f"table view prefixes must be a non-empty list without repeats, got {prefixes}")

    def member(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + "_")

    views: dict[str, dict[str, list[int]]] = {}
    for prefix in prefixes:
        views[prefix] = {"numerical": [i for i, n in enumerate(numerical) if member(n, prefix)],
                         "categorical": [i for i, n in enumerate(categorical) if member(n, prefix)]}
        if not views[prefix]["numerical"] and not views[prefix]["categorical"]:
            raise ValueError(f"table view {prefix!r} matches no column (columns are named '{prefix}' or "
                             f"'{prefix}_...'); numerical columns start {list(numerical)[:5]}")
    for kind, names in (("numerical", numerical), ("categorical", categorical)):
        owners: dict[int, list[str]] = {}
        for prefix, view in views.items():
            for index in view[kind]:
                owners.setdefault(index, []).append(prefix)
        shared = {names[i]: o for i, o in owners.items() if len(o) > 1}
        if shared:
            raise ValueError(f"{kind} column(s) in several table views: {shared}")
        orphans = [n for i, n in enumerate(names) if i not in owners]
        if orphans:
            raise ValueError(f"{kind} column(s) {orphans[:8]} belong to none of the table views {prefixes}; "
                             "name a view for them or leave them out of the data spec")
    return views


def _check_views(table_views: Mapping[str, Mapping[str, Sequence[int]]] | None, n_numerical: int,
                 n_categorical: int) -> dict[str, dict[str, list[int]]]:
    if table_views is None:
        return {TABLE: {"numerical": list(range(n_numerical)), "categorical": list(range(n_categorical))}}
    if not isinstance(table_views, Mapping) or not table_views:
        raise ValueError(f"GAALNetwork: table_views must be a non-empty mapping view -> {{'numerical': [...], "
                         f"'categorical': [...]}}, got {table_views!r}")
    views = {}
    for name, view in table_views.items():
        if name == IMAGE or "." in str(name):
            raise ValueError(f"GAALNetwork: {name!r} cannot name a table view")
        unknown = sorted(set(view) - {"numerical", "categorical"})
        if unknown:
            raise ValueError(f"GAALNetwork: table view {name!r} has unknown key(s) {unknown}")
        numerical = [int(i) for i in view.get("numerical", [])]
        categorical = [int(i) for i in view.get("categorical", [])]
        for kind, index, size in (("numerical", numerical, n_numerical), ("categorical", categorical, n_categorical)):
            bad = [i for i in index if not 0 <= i < size]
            if bad:
                raise ValueError(f"GAALNetwork: table view {name!r} has {kind} column indices {bad} outside "
                                 f"0..{size - 1}")
        if not numerical and not categorical:
            raise ValueError(f"GAALNetwork: table view {name!r} has no columns")
        views[str(name)] = {"numerical": numerical, "categorical": categorical}
    return views


def _encoder_args_with_texts(name: str, args: Mapping[str, Any] | None, texts: Sequence[str] | None) -> dict:
    """Give header-aware table encoders (those taking ``column_texts``) the texts of their view's columns."""
    args = dict(args or {})
    if texts is None or "column_texts" in args or "header_embeddings" in args:
        return args
    if "column_texts" in inspect.signature(get_encoder_class(name)).parameters:
        args["column_texts"] = list(texts)
    return args


class GAALNetwork(ModeMixin, nn.Module):
    """Unimodal encoders + one shared linear classifier psi (GAAL).

    Each modality ``m`` (``"image"`` and each table view; one view ``"table"`` by default) has its encoder from the
    registry and a linear projection to ``embed_dim`` (together: the modality's branch, ``encode``); psi maps
    ``embed_dim`` to the class logits and is shared by every modality, so every unimodal step trains it.

    Presence: the image is present unless ``batch["image_present"]`` says 0; a table view is present unless
    ``batch["table_present"]`` says 0 or every cell of the view is masked missing (a row with nothing observed is
    not predicted from). ``forward`` averages the logits of the modalities a sample has, among those ``mode``
    allows (``both``: all; ``image_only``; ``table_only``: the table views); a sample missing a modality is
    predicted from the others. A sample left with no modality is an error naming the sample.

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        n_numerical: numerical columns of the whole table.
        cardinalities: categorical cardinalities of the whole table (each including the unknown index 0).
        out_channels: number of classes (>= 2: GAAL ranks samples by predictive entropy).
        image_encoder: image encoder name in the registry (default ``"resnet50"``).
        table_encoder: table encoder name in the registry (default ``"mlp"``), one per view.
        image_encoder_args / table_encoder_args: further encoder arguments (the table ones for every view).
        table_views: ``{view: {"numerical": [indices], "categorical": [indices]}}`` (see
            :func:`table_views_by_prefix`); ``None``: one view ``"table"`` with every column.
        embed_dim: shared width between the branches and psi.
        dropout: dropout on the projected features before psi.
        column_texts: one header text per column (numerical then categorical), for header-aware table encoders.
        mode: ``"both"``, ``"image_only"`` or ``"table_only"``.

    Example:
        >>> net = GAALNetwork(spatial_dims=2, in_channels=1, n_numerical=2, cardinalities=[3], out_channels=2,
        ...                   image_encoder="resnet10", image_encoder_args={"width_factor": 0.125})
        >>> batch = {"image": torch.zeros(3, 1, 16, 16), "numerical": torch.zeros(3, 2),
        ...          "categorical": torch.ones(3, 1, dtype=torch.long), "table_present": torch.tensor([1, 0, 1])}
        >>> out = net(batch)
        >>> out["logits"].shape, net.modalities, out["table_present"].tolist()
        (torch.Size([3, 2]), ['image', 'table'], [1.0, 0.0, 1.0])
        >>> torch.allclose(out["logits"][1], out["logits_image"][1])   # no table: the image alone
        True
    """

    allowed_modes = ("both", "image_only", "table_only")

    def __init__(self, *, spatial_dims: int, in_channels: int, n_numerical: int, cardinalities: Sequence[int],
                 out_channels: int, image_encoder: str = "resnet50", table_encoder: str = "mlp",
                 image_encoder_args: Mapping[str, Any] | None = None,
                 table_encoder_args: Mapping[str, Any] | None = None,
                 table_views: Mapping[str, Mapping[str, Sequence[int]]] | None = None, embed_dim: int = 128,
                 dropout: float = 0.0, column_texts: Sequence[str] | None = None, mode: str = "both") -> None:
        super().__init__()
        name = type(self).__name__
        check_head_args(name, out_channels, dropout)
        if int(out_channels) < 2:
            raise ValueError(f"{name}: GAAL is a classification method (hard samples are ranked by predictive "
                             f"entropy): out_channels must be >= 2 classes, got {out_channels!r}")
        if int(embed_dim) < 1:
            raise ValueError(f"{name}: embed_dim must be >= 1, got {embed_dim!r}")
        cardinalities = [int(c) for c in cardinalities]
        if column_texts is not None and len(column_texts) != int(n_numerical) + len(cardinalities):
            raise ValueError(f"{name}: column_texts needs one text per column ({int(n_numerical)} numerical + "
                             f"{len(cardinalities)} categorical), got {len(column_texts)}")
        self.views = _check_views(table_views, int(n_numerical), len(cardinalities))
        self.encoders = nn.ModuleDict()
        self.encoders[IMAGE] = build_encoder(image_encoder, "image", name, image_encoder_args,
                                             spatial_dims=spatial_dims, in_channels=in_channels)
        for view, columns in self.views.items():
            texts = None if column_texts is None else (
                [column_texts[i] for i in columns["numerical"]]
                + [column_texts[int(n_numerical) + i] for i in columns["categorical"]])
            args = _encoder_args_with_texts(table_encoder, table_encoder_args, texts)
            self.encoders[view] = build_encoder(table_encoder, "table", name, args,
                                                n_numerical=len(columns["numerical"]),
                                                cardinalities=[cardinalities[i] for i in columns["categorical"]])
        self.projections = nn.ModuleDict({m: nn.Linear(enc.feature_dim, int(embed_dim))
                                          for m, enc in self.encoders.items()})
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(int(embed_dim), int(out_channels))  # psi, shared by every modality
        self._whole_table = {view: columns["numerical"] == list(range(int(n_numerical)))
                             and columns["categorical"] == list(range(len(cardinalities)))
                             for view, columns in self.views.items()}
        for view, columns in self.views.items():
            for kind in ("numerical", "categorical"):
                self.register_buffer(f"_{kind}_index_{view}", torch.tensor(columns[kind], dtype=torch.long),
                                     persistent=False)
        self.mode = mode

    @property
    def modalities(self) -> list[str]:
        """``["image", <table views>...]``: the order of the alternating steps."""
        return list(self.encoders)

    @property
    def table_view_names(self) -> list[str]:
        return list(self.views)

    def active_modalities(self) -> list[str]:
        """The modalities ``mode`` lets ``forward`` use."""
        if self.mode == "image_only":
            return [IMAGE]
        if self.mode == "table_only":
            return self.table_view_names
        return self.modalities

    def _view_tensors(self, batch: Mapping[str, Any], view: str) -> dict[str, torch.Tensor | None]:
        table = get_table(batch, type(self).__name__)
        if self._whole_table.get(view, False):  # one view of every column, in order: nothing to select
            return table
        out = {}
        for kind in ("numerical", "categorical"):
            index = getattr(self, f"_{kind}_index_{view}")
            for key in (kind, f"{kind}_mask"):
                value = table[key]
                out[key] = None if value is None else value.index_select(1, index.to(value.device))
        return out

    def presence(self, batch: Mapping[str, Any], modality: str) -> torch.Tensor:
        """(B,) bool: which samples have ``modality`` (see the class docstring)."""
        if modality not in self.encoders:
            raise KeyError(f"{type(self).__name__}: unknown modality {modality!r}; modalities: {self.modalities}")
        size = batch_size(batch)
        device = self.classifier.weight.device
        if modality == IMAGE:
            return get_presence(batch, "image_present", size, device)
        present = get_presence(batch, "table_present", size, device)
        view = self._view_tensors(batch, modality)
        observed = torch.zeros(size, dtype=torch.bool, device=device)
        for kind in ("numerical", "categorical"):
            values, mask = view[kind], view[f"{kind}_mask"]
            if values is None or values.shape[1] == 0:
                continue
            observed |= True if mask is None else (mask.to(device).float() > 0.5).any(dim=1)
        return present & observed

    def encode(self, batch: Mapping[str, Any], modality: str, index: torch.Tensor | None = None) -> torch.Tensor:
        """The branch of ``modality`` (encoder + projection) on the samples ``index`` (all when ``None``):
        (B', embed_dim) features, before dropout and psi."""
        name = type(self).__name__
        if modality == IMAGE:
            image = get_image(batch, name)
            features = self.encoders[IMAGE](image if index is None else image[index.to(image.device)])
        else:
            table = self._view_tensors(batch, modality)
            if index is not None:
                table = {k: None if v is None else v[index.to(v.device)] for k, v in table.items()}
            features = self.encoders[modality](**table)
        return self.projections[modality](features)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """psi on projected features: (B', out_channels) logits."""
        return self.classifier(self.dropout(features))

    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """``logits`` (the average of the unimodal logits over the modalities each sample has, within ``mode``),
        ``logits_<m>`` (zeros where ``m`` is absent or not used) and ``<m>_present`` (B,) flags per modality;
        ``table_present`` is 1 where any table view was used."""
        if not isinstance(batch, Mapping):
            raise TypeError(f"{type(self).__name__} expects the batch dict, got {type(batch).__name__}")
        size = batch_size(batch)
        device = self.classifier.weight.device
        active = self.active_modalities()
        total = torch.zeros(size, self.classifier.out_features, device=device)
        count = torch.zeros(size, device=device)
        outputs: dict[str, torch.Tensor] = {}
        for modality in self.modalities:
            present = self.presence(batch, modality) if modality in active else torch.zeros(
                size, dtype=torch.bool, device=device)
            logits = torch.zeros(size, self.classifier.out_features, device=device)
            if bool(present.any()):
                index = None if bool(present.all()) else present.nonzero().squeeze(1)
                unimodal = self.classify(self.encode(batch, modality, index)).float()
                logits = unimodal if index is None else logits.index_copy(0, index, unimodal)
            outputs[f"logits_{modality}"] = logits
            outputs[f"{modality}_present"] = present.float()
            total = total + logits
            count = count + present.float()
        if bool((count == 0).any()):
            missing = (count == 0).nonzero().flatten().tolist()
            raise ValueError(f"{type(self).__name__}: samples {missing[:8]} of the batch have none of the "
                             f"modalities {active} (mode {self.mode!r}); nothing to predict them from")
        if TABLE not in self.views:
            views = torch.stack([outputs[f"{v}_present"] for v in self.views]).amax(0)
            outputs[f"{TABLE}_present"] = views
        outputs["logits"] = total / count[:, None]
        return outputs
