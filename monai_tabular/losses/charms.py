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
"""CHARMS: channel-attribute optimal transport (similarity matrices, cost, plan) and the training loss.

The alignment compares, for every table attribute and every cluster of image channels, how the two arrange the
same N training samples: an N x N sample-similarity matrix per attribute (numerical: Gaussian kernel of the value
distance; categorical: equality) and per channel cluster (cosine similarity of the samples' standardised channel
activations). The cost of matching attribute i with cluster j is the mean squared difference of the two matrices
over the sample pairs where the attribute is observed. POT computes the transport plan; the plan, expanded from
clusters to channels, says which channels each attribute's auxiliary head reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from monai_tabular.losses.task import TaskLoss

__all__ = ["TRANSPORTS", "attribute_similarities", "cluster_similarities", "alignment_cost",
           "reference_alignment_cost", "transport_plan", "expand_plan", "CharmsLoss"]

TRANSPORTS = ("emd", "partial", "sinkhorn")


def attribute_similarities(*, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                           categorical: torch.Tensor | None = None, categorical_mask: torch.Tensor | None = None,
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per attribute, the N x N similarity of the samples and the mask of sample pairs where both cells are observed.

    Numerical attributes: ``exp(-(x_i - x_j)^2 / (2 s^2))`` with ``s`` the standard deviation of the observed
    values (1 where they do not vary); categorical: 1 for equal categories, else 0. Attributes are ordered
    numerical first, then categorical (the order of the encoded table). The diagonal is left out of the mask.

    Args:
        numerical: (N, n_numerical) values; numerical_mask: (N, n_numerical), 1 observed, 0 missing.
        categorical: (N, n_categorical) indices; categorical_mask: (N, n_categorical), 1 observed.

    Returns:
        ``(similarity, pair_mask)``, both (A, N, N) float.

    Example:
        >>> sims, pairs = attribute_similarities(numerical=torch.tensor([[0.0], [0.0], [3.0]]),
        ...                                      numerical_mask=torch.tensor([[1.0], [1.0], [0.0]]))
        >>> sims.shape, pairs[0].tolist()
        (torch.Size([1, 3, 3]), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    """
    sims, masks = [], []
    if numerical is not None and numerical.shape[-1] > 0:
        values = numerical.float().t()  # (A, N)
        observed = _mask_of(numerical_mask, values.t()).t()
        count = observed.sum(1, keepdim=True).clamp_min(1.0)
        mean = (values * observed).sum(1, keepdim=True) / count
        spread = (((values - mean) * observed) ** 2).sum(1, keepdim=True) / count
        spread = torch.where(spread > 1e-12, spread, torch.ones_like(spread))
        distance = (values.unsqueeze(2) - values.unsqueeze(1)) ** 2
        sims.append(torch.exp(-distance / (2.0 * spread.unsqueeze(2))))
        masks.append(observed.unsqueeze(2) * observed.unsqueeze(1))
    if categorical is not None and categorical.shape[-1] > 0:
        codes = categorical.long().t()
        observed = _mask_of(categorical_mask, codes.t()).t() * (codes > 0).float()  # index 0: unknown category
        sims.append((codes.unsqueeze(2) == codes.unsqueeze(1)).float())
        masks.append(observed.unsqueeze(2) * observed.unsqueeze(1))
    if not sims:
        raise ValueError("CHARMS alignment needs at least one numerical or categorical attribute; the table has none")
    similarity, pair_mask = torch.cat(sims), torch.cat(masks)
    size = pair_mask.shape[-1]
    pair_mask = pair_mask * (1.0 - torch.eye(size, device=pair_mask.device, dtype=pair_mask.dtype))
    return similarity, pair_mask


def _mask_of(mask: torch.Tensor | None, values: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones(values.shape, device=values.device)
    if mask.shape != values.shape:
        raise ValueError(f"a table mask of shape {tuple(mask.shape)} does not match its values {tuple(values.shape)}")
    return mask.float()


def cluster_similarities(activations: torch.Tensor, clusters: torch.Tensor | np.ndarray, n_clusters: int,
                         ) -> torch.Tensor:
    """Per channel cluster, the N x N cosine similarity of the samples over that cluster's channels.

    Activations are standardised per channel over the samples first, so a similarity says whether two samples
    lie on the same side of the cohort on those channels (raw post-ReLU activations make every pair similar).
    One matrix product per cluster (never a loop over samples).

    Args:
        activations: (N, C) channel activations (globally pooled feature map) of N samples.
        clusters: (C,) cluster index of each channel, in ``[0, n_clusters)``.
        n_clusters: number of clusters K.

    Returns:
        (K, N, N) similarities; a cluster without channels gives zeros.

    Example:
        >>> cluster_similarities(torch.randn(5, 4), torch.tensor([0, 0, 1, 1]), 2).shape
        torch.Size([2, 5, 5])
    """
    activations = activations.float()
    clusters = torch.as_tensor(clusters, device=activations.device).long()
    if clusters.shape != (activations.shape[1],):
        raise ValueError(f"clusters must give one index per channel ({activations.shape[1]}), got shape "
                         f"{tuple(clusters.shape)}")
    centred = activations - activations.mean(0, keepdim=True)
    scaled = centred / activations.std(0, keepdim=True).clamp_min(1e-6)
    size = activations.shape[0]
    out = activations.new_zeros(int(n_clusters), size, size)
    order = torch.argsort(clusters, stable=True)
    counts = torch.bincount(clusters, minlength=int(n_clusters)).tolist()
    for index, part in enumerate(torch.split(scaled[:, order], counts, dim=1)):
        if part.shape[1]:
            unit = F.normalize(part, dim=1)
            out[index] = unit @ unit.t()
    return out


def alignment_cost(cluster_similarity: torch.Tensor, *, numerical: torch.Tensor | None = None,
                   numerical_mask: torch.Tensor | None = None, categorical: torch.Tensor | None = None,
                   categorical_mask: torch.Tensor | None = None, chunk: int = 32) -> torch.Tensor:
    """Cost (A, K): per attribute and cluster, the mean over observed sample pairs (i != j) of the squared
    difference of the attribute's and the cluster's similarity matrices (see :func:`attribute_similarities`).

    Expanding the square, ``sum M (S_a - S_k)^2 = sum M S_a^2 - 2 sum (M S_a) S_k + sum M S_k^2``: the middle term is
    one (A, N^2) x (N^2, K) product, the last one needs only the observed-cell vectors, and categorical attributes
    build ``M S_a`` from one-hot products, so A = 100, K = 40, N = 512 runs in a fraction of a second. Attributes
    are processed ``chunk`` at a time to bound memory. An attribute with no observed pair costs 0 everywhere.

    Args:
        cluster_similarity: (K, N, N) from :func:`cluster_similarities`.
        numerical, numerical_mask, categorical, categorical_mask: the encoded table of the N samples.

    Example:
        >>> sims = cluster_similarities(torch.randn(8, 4), torch.tensor([0, 0, 1, 1]), 2)
        >>> alignment_cost(sims, numerical=torch.randn(8, 3)).shape
        torch.Size([3, 2])
    """
    clusters, size = cluster_similarity.shape[0], cluster_similarity.shape[-1]
    flat = cluster_similarity.float().reshape(clusters, -1)
    squared = cluster_similarity.float() ** 2
    squared_diagonal = squared.diagonal(dim1=1, dim2=2)  # (K, N)
    device = flat.device
    costs = []

    def finish(weighted: torch.Tensor, first: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        weighted.diagonal(dim1=1, dim2=2).zero_()
        second = weighted.reshape(weighted.shape[0], -1) @ flat.t()
        spread_pairs = (torch.matmul(observed.unsqueeze(0), squared) * observed.unsqueeze(0)).sum(-1).t()
        third = spread_pairs - observed @ squared_diagonal.t()
        count = observed.sum(1, keepdim=True) ** 2 - observed.sum(1, keepdim=True)
        return ((first.unsqueeze(1) - 2.0 * second + third) / count.clamp_min(1.0)).clamp_min(0.0)

    if numerical is not None and numerical.shape[-1] > 0:
        values = numerical.float().t().to(device)
        observed_all = _mask_of(numerical_mask, values.t()).t().to(device)
        for start in range(0, values.shape[0], chunk):
            x, observed = values[start:start + chunk], observed_all[start:start + chunk]
            count = observed.sum(1, keepdim=True).clamp_min(1.0)
            mean = (x * observed).sum(1, keepdim=True) / count
            spread = (((x - mean) * observed) ** 2).sum(1, keepdim=True) / count
            x = x / torch.where(spread > 1e-12, spread, torch.ones_like(spread)).mul(2.0).sqrt()
            weighted = (x.unsqueeze(2) - x.unsqueeze(1)).pow_(2).neg_().exp_()
            weighted.mul_(observed.unsqueeze(2)).mul_(observed.unsqueeze(1))
            weighted.diagonal(dim1=1, dim2=2).zero_()
            first = torch.linalg.vector_norm(weighted.reshape(weighted.shape[0], -1), dim=1) ** 2
            costs.append(finish(weighted, first, observed))
    if categorical is not None and categorical.shape[-1] > 0:
        codes_all = categorical.long().t().to(device)
        observed_all = (_mask_of(categorical_mask, codes_all.t()).t().to(device) * (codes_all > 0).float())
        width = int(codes_all.max()) + 1 if codes_all.numel() else 1
        for start in range(0, codes_all.shape[0], chunk):
            codes, observed = codes_all[start:start + chunk], observed_all[start:start + chunk]
            onehot = F.one_hot(codes, width).float() * observed.unsqueeze(2)  # (a, N, width)
            weighted = torch.bmm(onehot, onehot.transpose(1, 2))
            per_class = onehot.sum(1)
            first = (per_class ** 2).sum(1) - observed.sum(1)  # equal, observed pairs i != j
            costs.append(finish(weighted, first, observed))
    if not costs:
        raise ValueError("CHARMS alignment needs at least one numerical or categorical attribute; the table has none")
    return torch.cat(costs)


def reference_alignment_cost(attribute_similarity: torch.Tensor, pair_mask: torch.Tensor,
                             cluster_similarity: torch.Tensor) -> torch.Tensor:
    """The cost of :func:`alignment_cost` written directly from the matrices (slow; for checking).

    Example:
        >>> sims, pairs = attribute_similarities(numerical=torch.randn(6, 2))
        >>> reference_alignment_cost(sims, pairs, torch.stack([sims[1], sims[0]])).argmin(1).tolist()
        [1, 0]
    """
    difference = (attribute_similarity.unsqueeze(1) - cluster_similarity.unsqueeze(0)) ** 2
    mask = pair_mask.unsqueeze(1)
    return (difference * mask).flatten(2).sum(2) / mask.flatten(2).sum(2).clamp_min(1.0)


def transport_plan(cost: torch.Tensor | np.ndarray, *, method: str = "emd", mass: float = 0.8, reg: float = 0.05,
                   ) -> np.ndarray:
    """Transport plan (A, K) between attributes and clusters with uniform marginals, computed by POT.

    Args:
        cost: (A, K) cost matrix.
        method: ``"emd"`` (exact OT, ``ot.emd``; every attribute and cluster fully matched), ``"partial"``
            (``ot.partial.partial_wasserstein``, the CHARMS paper's choice: only ``mass`` of the total is moved, so
            attributes no channel cluster resembles can stay unmatched) or ``"sinkhorn"`` (entropic OT,
            ``ot.sinkhorn`` with regularisation ``reg`` on the cost scaled to max 1; a dense plan).
        mass: transported fraction for ``"partial"``, in (0, 1].
        reg: entropic regularisation for ``"sinkhorn"``.

    Example:
        >>> transport_plan(np.array([[0.0, 1.0], [1.0, 0.0]])).round(2).tolist()
        [[0.5, 0.0], [0.0, 0.5]]
    """
    import ot

    if method not in TRANSPORTS:
        raise ValueError(f"transport must be one of {list(TRANSPORTS)}, got {method!r}")
    matrix = cost.detach().cpu().double().numpy() if isinstance(cost, torch.Tensor) else np.asarray(cost, float)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"the cost must be a non-empty (attributes, clusters) matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("the alignment cost has non-finite entries (NaN/inf activations or table values?)")
    source = np.full(matrix.shape[0], 1.0 / matrix.shape[0])
    target = np.full(matrix.shape[1], 1.0 / matrix.shape[1])
    scaled = matrix / matrix.max() if matrix.max() > 0 else matrix
    if method == "emd":
        return np.asarray(ot.emd(source, target, scaled))
    if method == "partial":
        if not 0.0 < float(mass) <= 1.0:
            raise ValueError(f"partial transport mass must be in (0, 1], got {mass!r}")
        return np.asarray(ot.partial.partial_wasserstein(source, target, scaled, m=float(mass)))
    if float(reg) <= 0:
        raise ValueError(f"sinkhorn regularisation must be > 0, got {reg!r}")
    return np.asarray(ot.sinkhorn(source, target, scaled, float(reg), numItermax=10000))


def expand_plan(plan: torch.Tensor | np.ndarray, clusters: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Attribute-by-channel weights A (A, C): each channel takes its cluster's plan entry, rows scaled to max 1.

    An attribute the plan leaves unmatched (partial transport) gets an all-zero row.

    Example:
        >>> expand_plan(np.array([[0.5, 0.0], [0.0, 0.5]]), np.array([0, 1, 1])).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    """
    plan = torch.as_tensor(np.asarray(plan), dtype=torch.float32)
    clusters = torch.as_tensor(np.asarray(clusters)).long()
    weights = plan[:, clusters]
    peak = weights.amax(1, keepdim=True)
    return torch.where(peak > 1e-12, weights / peak.clamp_min(1e-12), torch.zeros_like(weights))


class CharmsLoss(torch.nn.Module):
    """CHARMS training loss as named terms: ``image_task``, ``table_task``, ``aux`` and (KD mode) ``distill``.

    - ``image_task``: the label loss of the image model (``outputs["logits"]``).
    - ``table_task``: the label loss of the table model trained jointly (``outputs["table_logits"]``).
    - ``aux``: mean over the aligned attributes of each auxiliary head's loss on its observed cells: MSE on the
      standardised value (numerical), cross-entropy (categorical); missing cells and unknown categories (index 0)
      are left out, and attributes dropped from the alignment (``outputs["aux_active"]`` == 0) too.
    - ``distill`` (``distill=True``, the knowledge-distillation comparison): KL divergence from the detached table
      model's softened class probabilities (temperature ``temperature``, scaled by its square), or MSE to its
      output for regression.

    Terms are returned unweighted (so they are logged on their own scale); :attr:`weights` holds the weights for
    ``TabularTrainer(loss_weights=...)``. Defaults: ``image_weight = table_weight = 1`` (both label losses as in
    the paper); ``aux_weight = 0.5``: the auxiliary term averages many per-attribute losses (MSE of values with
    unit spread, cross-entropies of a few classes), which are of the order of the label loss, and half weight keeps
    the label the main objective of the deployed image model while still shaping the aligned channels;
    ``distill_weight = 1`` with ``temperature = 4`` (Hinton et al.'s usual setting).

    Args:
        task: ``"classification"`` or ``"regression"``.
        auxiliary: compute the auxiliary term (CHARMS); ``False`` for the KD comparison.
        distill: add the distillation term (KD comparison).
        image_weight, table_weight, aux_weight, distill_weight: weights of the terms.
        temperature: distillation temperature.
        class_weights: per-class weights of the label losses.

    Example:
        >>> loss = CharmsLoss(auxiliary=False)
        >>> terms = loss({"logits": torch.zeros(2, 2), "table_logits": torch.zeros(2, 2)},
        ...              {"label": torch.tensor([0, 1])})
        >>> sorted(terms), loss.weights
        (['image_task', 'table_task'], {'image_task': 1.0, 'table_task': 1.0})
    """

    def __init__(self, *, task: str = "classification", auxiliary: bool = True, distill: bool = False,
                 image_weight: float = 1.0, table_weight: float = 1.0, aux_weight: float = 0.5,
                 distill_weight: float = 1.0, temperature: float = 4.0, class_weights: list[float] | None = None,
                 ) -> None:
        super().__init__()
        if float(temperature) <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        self.image_loss = TaskLoss(task=task, class_weights=class_weights, name="image_task")
        self.table_loss = TaskLoss(task=task, class_weights=class_weights, output_key="table_logits",
                                   name="table_task")
        self.task, self.auxiliary, self.distill = task, bool(auxiliary), bool(distill)
        self.temperature = float(temperature)
        weights = {"image_task": float(image_weight), "table_task": float(table_weight)}
        if self.auxiliary:
            weights["aux"] = float(aux_weight)
        if self.distill:
            weights["distill"] = float(distill_weight)
        self.weights = weights

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        terms = {**self.image_loss(outputs, batch), **self.table_loss(outputs, batch)}
        if self.auxiliary:
            terms["aux"] = self.auxiliary_loss(outputs, batch)
        if self.distill:
            terms["distill"] = self.distillation_loss(outputs["logits"], outputs["table_logits"])
        return terms

    def distillation_loss(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """Output-based distillation from the (detached) table model."""
        teacher = teacher.detach().float()
        if self.task == "regression":
            return F.mse_loss(student.float(), teacher)
        t = self.temperature
        return F.kl_div(F.log_softmax(student.float() / t, dim=1), F.log_softmax(teacher / t, dim=1),
                        reduction="batchmean", log_target=True) * t * t

    def auxiliary_loss(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> torch.Tensor:
        """Mean over aligned attributes of the masked per-attribute losses (see the class docstring)."""
        for key in ("aux_numerical", "aux_categorical", "aux_active"):
            if key not in outputs:
                raise KeyError(f"CharmsLoss(auxiliary=True) needs the network output {key!r}; it has {list(outputs)}"
                               " (build the network with auxiliary=True, or the loss with auxiliary=False)")
        active = outputs["aux_active"].float()
        per_attribute, counted = [], []
        predicted = outputs["aux_numerical"]
        if predicted.shape[1]:
            target, mask = batch["numerical"].float(), _mask_of(batch.get("numerical_mask"), batch["numerical"])
            error = (predicted.float() - target) ** 2 * mask
            per_attribute.append(error.sum(0) / mask.sum(0).clamp_min(1.0))
            counted.append(mask.sum(0))
        logits = outputs["aux_categorical"]
        if logits.shape[1]:
            codes = batch["categorical"].long()
            mask = _mask_of(batch.get("categorical_mask"), codes) * (codes > 0).float()
            flat = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), codes.reshape(-1),
                                   reduction="none").reshape(codes.shape) * mask
            per_attribute.append(flat.sum(0) / mask.sum(0).clamp_min(1.0))
            counted.append(mask.sum(0))
        losses, counts = torch.cat(per_attribute), torch.cat(counted)
        use = active * (counts > 0).float()
        return (losses * use).sum() / use.sum().clamp_min(1.0)
