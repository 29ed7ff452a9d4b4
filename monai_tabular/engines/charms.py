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
"""CHARMS epoch hook: re-align image channels with table attributes every ``align_every`` epochs.

On a fixed subset of the *training* data, the hook pools the image encoder's last feature map, groups the channels
with K-Means (scikit-learn) over their activation profiles, computes the attribute/cluster cost and the POT
transport plan (:mod:`monai_tabular.losses.charms`), installs the expanded attribute-by-channel weights in the
network, and writes the alignment as JSON and a heat-map PNG so one can see which attributes the image model
learned. Also here: the seeded training subset and the table-free inference data list.
"""

from __future__ import annotations

import json
import logging
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events

from monai_tabular.data import TableSchema, build_datalist, read_table
from monai_tabular.engines.prepare_batch import PrepareTabularBatch
from monai_tabular.utils.distributed import gather_rows, rank_and_world
from monai_tabular.losses.charms import TRANSPORTS, alignment_cost, cluster_similarities, expand_plan, transport_plan
from monai_tabular.metrics.report import agg_figure

__all__ = ["ChannelAlignment", "align_channels", "cluster_channels", "write_alignment", "ChannelAttributeRealignment",
           "alignment_subset", "image_only_datalist", "check_method", "METHODS"]

logger = logging.getLogger(__name__)


@dataclass
class ChannelAlignment:
    """One channel-attribute alignment.

    Attributes:
        weights: (A, C) attribute-by-channel weights (rows scaled to max 1; zero rows for inactive attributes).
        active: (A,) bool, attributes that took part (not constant / fully missing).
        plan: (A_active, K) transport plan between the active attributes and the channel clusters.
        cost: (A_active, K) cost matrix.
        clusters: (C,) cluster of each channel.
        attribute_names: names of all A attributes; dropped: ``{name: reason}`` of those left out.

    Example:
        >>> alignment = align_channels(torch.randn(16, 8), numerical=torch.randn(16, 2), n_clusters=2,
        ...                            attribute_names=["age", "volume"])
        >>> sorted(alignment.to_dict(epoch=1)["attribute_to_channels"])
        ['age', 'volume']
    """

    weights: torch.Tensor
    active: torch.Tensor
    plan: np.ndarray
    cost: np.ndarray
    clusters: np.ndarray
    attribute_names: list[str]
    dropped: dict[str, str] = field(default_factory=dict)

    def to_dict(self, *, top_channels: int = 16, **extra: Any) -> dict[str, Any]:
        """JSON-ready summary: per active attribute its matched clusters (plan mass) and strongest channels."""
        names = [n for n, a in zip(self.attribute_names, self.active.tolist()) if a]
        rows = {}
        for row, (name, mass) in enumerate(zip(names, self.plan)):
            matched = {int(k): float(m) for k, m in enumerate(mass) if m > 1e-9}
            index = self.attribute_names.index(name)
            channels = torch.nonzero(self.weights[index] > 1e-9).flatten().tolist()
            order = sorted(channels, key=lambda c: -float(self.weights[index, c]))
            rows[name] = {"clusters": matched, "n_channels": len(channels), "channels": order[:top_channels],
                          "row_mass": float(mass.sum())}
        return {**extra, "attributes": names, "dropped": dict(self.dropped), "n_clusters": int(self.plan.shape[1]),
                "channel_cluster": [int(c) for c in self.clusters], "attribute_to_channels": rows,
                "plan": np.asarray(self.plan).round(8).tolist(), "cost": np.asarray(self.cost).round(6).tolist()}


def cluster_channels(activations: torch.Tensor, n_clusters: int, *, seed: int = 0, n_init: int = 1) -> np.ndarray:
    """K-Means (scikit-learn) of the C channels over their standardised activation profiles (one value per
    sample); returns the cluster of each channel, relabelled ``0..K'-1`` over the non-empty clusters.

    Example:
        >>> cluster_channels(torch.randn(20, 8), 2).shape
        (8,)
    """
    from sklearn.cluster import KMeans

    channels = activations.shape[1]
    if int(n_clusters) > channels:
        raise ValueError(f"CHARMS: n_clusters C'={n_clusters} is larger than the C={channels} channels of the image "
                         "encoder's last feature map; choose n_clusters <= C (or a wider encoder)")
    if int(n_clusters) < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
    profiles = activations.detach().float().t()
    profiles = (profiles - profiles.mean(1, keepdim=True)) / profiles.std(1, keepdim=True).clamp_min(1e-6)
    with warnings.catch_warnings():  # dead (constant) channels share one profile: fewer distinct points is fine
        warnings.filterwarnings("ignore", message="Number of distinct clusters")
        labels = KMeans(n_clusters=int(n_clusters), n_init=n_init, random_state=seed).fit_predict(
            profiles.cpu().numpy())
    return np.unique(labels, return_inverse=True)[1].reshape(-1)


def _drop_reasons(names: Sequence[str], *, numerical: torch.Tensor | None, numerical_mask: torch.Tensor | None,
                  categorical: torch.Tensor | None, categorical_mask: torch.Tensor | None) -> dict[str, str]:
    """Attributes that arrange no samples: fewer than 2 observed cells, or one observed value only."""
    columns = []
    for values, mask, is_categorical in ((numerical, numerical_mask, False), (categorical, categorical_mask, True)):
        if values is None or values.shape[-1] == 0:
            continue
        observed = torch.ones(values.shape, dtype=torch.bool) if mask is None else mask.cpu() > 0.5
        if is_categorical:
            observed &= values.cpu() > 0  # the unknown-category index carries no value
        for index in range(values.shape[1]):
            columns.append(values[:, index].cpu()[observed[:, index]])
    if len(columns) != len(names):
        raise ValueError(f"{len(names)} attribute names for {len(columns)} attributes")
    reasons = {}
    for name, seen in zip(names, columns):
        if seen.numel() < 2:
            reasons[name] = "fully missing (fewer than 2 observed cells) in the training subset"
        elif bool((seen == seen[0]).all()):
            reasons[name] = "constant in the training subset"
    return reasons


def align_channels(activations: torch.Tensor, *, numerical: torch.Tensor | None = None,
                   numerical_mask: torch.Tensor | None = None, categorical: torch.Tensor | None = None,
                   categorical_mask: torch.Tensor | None = None, n_clusters: int = 40, transport: str = "emd",
                   partial_mass: float = 0.8, sinkhorn_reg: float = 0.05, attribute_names: Sequence[str] | None = None,
                   seed: int = 0, kmeans_n_init: int = 1) -> ChannelAlignment:
    """Channel-attribute alignment of N samples: K-Means of channels, similarity matrices, cost, POT plan.

    Attributes that are constant or fully missing among the N samples are dropped with a warning naming them (they
    arrange no samples, so any cluster would match them equally well).

    Args:
        activations: (N, C) pooled channel activations.
        numerical, numerical_mask, categorical, categorical_mask: the encoded table of the N samples.
        n_clusters: C', the number of channel clusters (<= C).
        transport: ``"emd"``, ``"partial"`` or ``"sinkhorn"`` (see :func:`transport_plan`).
        partial_mass, sinkhorn_reg: options of the partial and entropic transports.
        attribute_names: names (numerical first, then categorical), for the warnings and the JSON.
        seed: K-Means seed.

    Example:
        >>> alignment = align_channels(torch.randn(32, 16), numerical=torch.randn(32, 2), n_clusters=4)
        >>> alignment.weights.shape, alignment.plan.shape
        (torch.Size([2, 16]), (2, 4))
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {list(TRANSPORTS)}, got {transport!r}")
    activations = activations.detach().float()
    table = {"numerical": numerical, "numerical_mask": numerical_mask, "categorical": categorical,
             "categorical_mask": categorical_mask}
    n_attributes = sum(int(table[k].shape[-1]) for k in ("numerical", "categorical") if table[k] is not None)
    if n_attributes == 0:
        raise ValueError("CHARMS alignment needs at least one numerical or categorical attribute; the table has none")
    names = list(attribute_names) if attribute_names is not None else [f"attribute_{i}" for i in range(n_attributes)]
    dropped = _drop_reasons(names, **table)
    for name, reason in dropped.items():
        warnings.warn(f"CHARMS alignment: attribute {name!r} is {reason}; it is dropped from the alignment",
                      stacklevel=2)
    active = torch.tensor([n not in dropped for n in names])
    if not bool(active.any()):
        raise ValueError(f"CHARMS alignment: every attribute is constant or fully missing in the training subset "
                         f"({sorted(dropped)}); nothing to align")
    clusters = cluster_channels(activations, n_clusters, seed=seed, n_init=kmeans_n_init)
    n_found = int(clusters.max()) + 1
    n_numerical = int(numerical.shape[-1]) if numerical is not None else 0
    kept = {key: None if value is None else value[:, _columns(active, key, n_numerical)].to(activations.device)
            for key, value in table.items()}
    cost = alignment_cost(cluster_similarities(activations, clusters, n_found), **kept)
    plan = transport_plan(cost, method=transport, mass=partial_mass, reg=sinkhorn_reg)
    weights = torch.zeros(n_attributes, activations.shape[1])
    weights[active] = expand_plan(plan, clusters)
    return ChannelAlignment(weights=weights, active=active, plan=plan, cost=cost.cpu().numpy(), clusters=clusters,
                            attribute_names=names, dropped=dropped)


def _columns(active: torch.Tensor, key: str, n_numerical: int) -> torch.Tensor:
    """Columns of the numerical or categorical block that are active."""
    part = active[:n_numerical] if key.startswith("numerical") else active[n_numerical:]
    return torch.nonzero(part).flatten()


def write_alignment(alignment: ChannelAlignment, output_dir: str | Path, *, epoch: int,
                    **extra: Any) -> tuple[Path, Path]:
    """Write ``alignment_epoch<NNN>.json`` and ``alignment_epoch<NNN>.png`` (heat-map of the plan, attributes x
    channel clusters, each row scaled to its largest entry) into ``output_dir``.

    Example:
        >>> write_alignment(alignment, "runs/fold0/alignment", epoch=1)   # doctest: +SKIP
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = output_dir / f"alignment_epoch{int(epoch):03d}"
    content = alignment.to_dict(epoch=int(epoch), **extra)
    json_path = stem.with_suffix(".json")
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in content.items()]
    json_path.write_text("{\n" + ",\n".join(lines) + "\n}\n")  # one line per entry: long arrays stay compact
    plan = np.asarray(alignment.plan)
    peak = plan.max(1, keepdims=True)
    shown = np.divide(plan, peak, out=np.zeros_like(plan), where=peak > 0)
    names = content["attributes"]
    height = min(40.0, 1.5 + 0.18 * len(names))
    figure = agg_figure(figsize=(min(16.0, 4.5 + 0.2 * plan.shape[1]), height))
    axis = figure.subplots()
    image = axis.imshow(shown, aspect="auto", cmap="viridis", interpolation="nearest", vmin=0.0, vmax=1.0)
    axis.set_yticks(range(len(names)), names, fontsize=max(4, min(9, int(400 / max(len(names), 1)))))
    axis.set_xlabel("channel cluster")
    axis.set_title(f"CHARMS transport plan, epoch {int(epoch)}", fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.03, label="plan / row maximum")
    figure.tight_layout()
    png_path = stem.with_suffix(".png")
    figure.savefig(png_path, dpi=100)
    return json_path, png_path


class ChannelAttributeRealignment:
    """Ignite handler: at the start of epochs 1, 1 + k, 1 + 2k ... (``k = align_every``) re-align the network's
    image channels with the table attributes on a fixed subset of the training data and write the artefacts.

    The network must have ``channel_activations(image)``, ``set_alignment(weights, active)`` and ``channels``
    (as :class:`~monai_tabular.networks.charms.CharmsNet`). The loader must give the same samples every time,
    without augmentation; it comes from the training split only (see :func:`alignment_subset`). Features are taken
    in eval mode without gradients; the network's train/eval state is restored afterwards. The alignment lives in
    the network's buffers, so a run resumed from a checkpoint keeps it until the next re-alignment.

    Args:
        network: the CHARMS network.
        data_loader: loader over the fixed training subset (batch dicts with ``image`` and the table tensors).
        align_every: re-alignment interval in epochs (default 5).
        n_clusters: C' (default 40); more than the encoder's channels is an error at construction.
        transport: ``"emd"`` (default), ``"partial"`` or ``"sinkhorn"``.
        partial_mass, sinkhorn_reg: options of the partial / entropic transports.
        attribute_names: attribute names, numerical first then categorical (the schema's order).
        output_dir: where ``alignment_epoch<NNN>.json``/``.png`` go (``None``: nothing written).
        seed: K-Means seed (plus the epoch).
        device: where the features are computed (default: the network's device).

    Example:
        >>> ChannelAttributeRealignment(network=net, data_loader=subset_loader, align_every=5,
        ...                             output_dir="runs/fold0/alignment").attach(trainer)   # doctest: +SKIP
    """

    def __init__(self, *, network: torch.nn.Module, data_loader, align_every: int = 5, n_clusters: int = 40,
                 transport: str = "emd", partial_mass: float = 0.8, sinkhorn_reg: float = 0.05,
                 attribute_names: Sequence[str] | None = None, output_dir: str | Path | None = None,
                 seed: int = 0, device: str | torch.device | None = None) -> None:
        for attribute in ("channel_activations", "set_alignment", "channels"):
            if not hasattr(network, attribute):
                raise TypeError(f"ChannelAttributeRealignment needs a CHARMS network (with {attribute!r}); got "
                                f"{type(network).__name__}")
        if int(align_every) < 1:
            raise ValueError(f"align_every must be >= 1, got {align_every}")
        if int(n_clusters) > int(network.channels):
            raise ValueError(f"CHARMS: n_clusters C'={n_clusters} is larger than the C={network.channels} channels of "
                             "the image encoder's last feature map; choose n_clusters <= C (or a wider encoder)")
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {list(TRANSPORTS)}, got {transport!r}")
        self.network, self.data_loader = network, data_loader
        self.align_every, self.n_clusters, self.transport = int(align_every), int(n_clusters), transport
        self.partial_mass, self.sinkhorn_reg = float(partial_mass), float(sinkhorn_reg)
        self.attribute_names = list(attribute_names) if attribute_names is not None else None
        self.output_dir = None if output_dir in (None, "") else Path(output_dir)
        self.seed, self.device = int(seed), device
        self.prepare_batch = PrepareTabularBatch()
        self.history: list[ChannelAlignment] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        epoch = int(engine.state.epoch)
        if (epoch - 1) % self.align_every == 0:
            self.realign(epoch)

    def collect(self) -> dict[str, torch.Tensor]:
        """Pooled channel activations and table tensors of the subset, in eval mode without gradients.

        In a distributed run each process encodes every ``world_size``-th sample of the subset and the rows are
        gathered back in the subset's order, so every process aligns on the same data one process would.
        """
        network = self.network
        device = self.device or next(network.parameters()).device
        was_training = network.training
        loader, indices = self._shard()
        parts: dict[str, list[torch.Tensor]] = {}
        network.eval()
        try:
            with torch.no_grad():
                for batchdata in loader:
                    batch = self.prepare_batch(batchdata, device)[0]
                    parts.setdefault("activations", []).append(network.channel_activations(batch["image"]).float())
                    for key in ("numerical", "numerical_mask", "categorical", "categorical_mask"):
                        if batch.get(key) is not None:
                            parts.setdefault(key, []).append(batch[key])
        finally:
            network.train(was_training)
        if not parts:
            raise ValueError("the CHARMS alignment subset is empty")
        data = {key: torch.cat(values) for key, values in parts.items()}
        if indices is None:
            return data
        order = torch.argsort(gather_rows(indices.to(device)))
        return {key: gather_rows(value)[order] for key, value in data.items()}

    def _shard(self) -> tuple[Any, torch.Tensor | None]:
        """This process's loader over every ``world_size``-th subset sample, and those samples' positions."""
        rank, world = rank_and_world()
        dataset = getattr(self.data_loader, "dataset", None)
        if world == 1 or dataset is None or len(dataset) < world:
            return self.data_loader, None
        indices = torch.arange(rank, len(dataset), world)
        loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices.tolist()),
                                             batch_size=self.data_loader.batch_size,
                                             collate_fn=self.data_loader.collate_fn,
                                             num_workers=self.data_loader.num_workers)
        return loader, indices

    def realign(self, epoch: int) -> ChannelAlignment:
        """Compute, install and (with ``output_dir``) write one alignment."""
        data = self.collect()
        alignment = align_channels(data.pop("activations"), **data, n_clusters=self.n_clusters,
                                   transport=self.transport, partial_mass=self.partial_mass,
                                   sinkhorn_reg=self.sinkhorn_reg, attribute_names=self.attribute_names,
                                   seed=self.seed + epoch)
        self.network.set_alignment(alignment.weights, alignment.active)
        self.history.append(alignment)
        if self.output_dir is not None:
            write_alignment(alignment, self.output_dir, epoch=epoch, transport=self.transport,
                            n_samples=int(data["numerical"].shape[0] if "numerical" in data
                                          else data["categorical"].shape[0]))
        logger.info("CHARMS re-alignment at epoch %d: %d attributes, %d clusters", epoch,
                    int(alignment.active.sum()), alignment.plan.shape[1])
        return alignment


def alignment_subset(records: Sequence[Mapping[str, Any]], *, n_samples: int = 512, seed: int = 0) -> list[dict]:
    """A fixed, seeded subset of at most ``n_samples`` training records for the alignment (all when fewer).

    Example:
        >>> len(alignment_subset([{"subject_id": str(i)} for i in range(10)], n_samples=4))
        4
    """
    records = [dict(r) for r in records]
    if int(n_samples) < 2:
        raise ValueError(f"the alignment needs at least 2 samples, got n_samples={n_samples}")
    if len(records) <= int(n_samples):
        return records
    chosen = sorted(random.Random(int(seed)).sample(range(len(records)), int(n_samples)))
    return [records[i] for i in chosen]


def image_only_datalist(*, csv: str | Path, run_dir: str | Path, image_root: str | Path | None = None,
                        check_images: str = "header") -> list[dict]:
    """Inference data list from a table of subject ids and image paths only: the trained image model needs no
    table, so feature and label columns are neither required nor read.

    Example:
        >>> records = image_only_datalist(csv="new_images.csv", run_dir="runs/fold0")   # doctest: +SKIP
    """
    schema = TableSchema.load(Path(run_dir) / "schema.json")
    image_columns = TableSchema([c for c in schema.columns if c.role in ("subject_id", "image")], task=schema.task,
                                label_classes=schema.label_classes, label_stats=schema.label_stats,
                                source=schema.source)
    table = read_table(csv)
    root = Path(image_root) if image_root else Path(csv).parent
    with warnings.catch_warnings():  # table columns of a full CSV are simply not needed here
        warnings.filterwarnings("ignore", message="columns .* are not in the schema")
        records = build_datalist(table, image_columns, image_root=root, check_images=check_images,
                                 require_labels=False)
    for record in records:
        record.pop("table", None)
    return records


METHODS = ("charms", "kd")


def check_method(method: str) -> str:
    """The bundle's ``method`` switch: ``"charms"`` (alignment + auxiliary heads) or ``"kd"`` (output distillation
    from the jointly trained table model, the comparison method).

    Example:
        >>> check_method("kd")
        'kd'
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    return method
