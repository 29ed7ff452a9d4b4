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
"""CFCML loss: cross-entropy plus the three CCRM (crossmodal contrastive refinement) terms.

All CCRM terms work on L2-normalised features with the similarity ``s(a, b) = exp((cos(a, b) + 1) / tau)``
(tau = 0.07) and have the InfoNCE form ``-log(s(x, positive) / sum_k s(x, candidate_k))``:

* ``ccrm_sample``: image feature of subject i vs the table features of the batch (positive: subject i's table),
  and the same from the table side (averaged);
* ``ccrm_unimodal_proto``: image feature vs the image class prototypes (positive: its class), and table vs
  table prototypes;
* ``ccrm_crossmodal_proto``: image feature vs the table prototypes, and table feature vs the image prototypes.

Prototypes are the running class means the network keeps (``outputs["image_prototypes"]`` ...); classes
without a prototype yet are left out of the candidates. The loss returns the unweighted terms; the trainer
weights them (``TabularTrainer(loss_weights=DEFAULT_CCRM_WEIGHTS)``: 0.04 / 0.06 / 0.18 for sample /
unimodal prototype / cross-modal prototype, the defaults of the CFCML paper's setting; CE has weight 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from monai_tabular.losses.contrastive import paired_info_nce

from monai_tabular.losses.task import TaskLoss

__all__ = ["DEFAULT_CCRM_WEIGHTS", "CCRM_TERMS", "ccrm_logits", "sample_contrastive_loss",
           "prototype_contrastive_loss", "ccrm_terms", "CFCMLLoss"]

CCRM_TERMS = ("ccrm_sample", "ccrm_unimodal_proto", "ccrm_crossmodal_proto")
DEFAULT_CCRM_WEIGHTS = {"ccrm_sample": 0.04, "ccrm_unimodal_proto": 0.06, "ccrm_crossmodal_proto": 0.18}


def ccrm_logits(features: torch.Tensor, candidates: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """``(cos + 1) / tau`` between each feature (N, D) and each candidate (M, D): the log of the CCRM similarity.

    Example:
        >>> ccrm_logits(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), 0.5).tolist()
        [[4.0, 0.0]]
    """
    cos = F.normalize(features.float(), dim=-1) @ F.normalize(candidates.float(), dim=-1).t()
    return (cos + 1.0) / float(temperature)


def sample_contrastive_loss(image: torch.Tensor, table: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Sample-level term: each subject's image matches its own table among the batch's tables, and vice versa.

    Example:
        >>> x = torch.eye(3)
        >>> bool(sample_contrastive_loss(x, x) < sample_contrastive_loss(x, x.roll(1, 0)))
        True
    """
    return paired_info_nce(image, table, temperature=temperature, owner="sample_contrastive_loss")


def prototype_contrastive_loss(features: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                               valid: torch.Tensor | None = None, temperature: float = 0.07) -> torch.Tensor:
    """Prototype term: each feature matches its class prototype among the (valid) class prototypes.

    Args:
        features: (N, D).
        prototypes: (C, D).
        labels: (N,) class indices.
        valid: (C,) bool, classes that have a prototype (default all); samples of an invalid class are skipped.
        temperature: tau.

    Example:
        >>> protos = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> good = prototype_contrastive_loss(protos, protos, torch.tensor([0, 1]))
        >>> bool(good < prototype_contrastive_loss(protos, protos, torch.tensor([1, 0])))
        True
    """
    labels = labels.long().view(-1).to(features.device)
    valid = (torch.ones(prototypes.shape[0], dtype=torch.bool, device=features.device) if valid is None
             else valid.to(features.device).bool())
    keep = valid[labels]
    if not bool(keep.any()):
        return features.sum() * 0.0
    logits = ccrm_logits(features[keep], prototypes.to(features.device), temperature)
    logits = logits.masked_fill(~valid.unsqueeze(0), float("-inf"))
    return F.cross_entropy(logits, labels[keep])


def ccrm_terms(image: torch.Tensor, table: torch.Tensor, labels: torch.Tensor, image_prototypes: torch.Tensor,
               table_prototypes: torch.Tensor, *, valid: torch.Tensor | None = None,
               temperature: float = 0.07) -> dict[str, torch.Tensor]:
    """The three CCRM terms (unweighted) of paired image/table features and their class prototypes.

    Example:
        >>> f, y = torch.eye(2), torch.tensor([0, 1])
        >>> sorted(ccrm_terms(f, f, y, f, f))
        ['ccrm_crossmodal_proto', 'ccrm_sample', 'ccrm_unimodal_proto']
    """
    proto = {"valid": valid, "temperature": temperature}
    return {
        "ccrm_sample": sample_contrastive_loss(image, table, temperature),
        "ccrm_unimodal_proto": 0.5 * (prototype_contrastive_loss(image, image_prototypes, labels, **proto)
                                      + prototype_contrastive_loss(table, table_prototypes, labels, **proto)),
        "ccrm_crossmodal_proto": 0.5 * (prototype_contrastive_loss(image, table_prototypes, labels, **proto)
                                        + prototype_contrastive_loss(table, image_prototypes, labels, **proto)),
    }


class CFCMLLoss(torch.nn.Module):
    """``loss(outputs, batch) -> {"task", "ccrm_sample", "ccrm_unimodal_proto", "ccrm_crossmodal_proto"}``.

    The CCRM terms need both ``outputs["image_embedding"]`` and ``outputs["table_embedding"]`` and the
    prototypes; when a variant lacks one (image-only, table-only) or ``ccrm=False`` they are returned as zeros,
    so the same ``loss_weights`` work for every ablation and each term is still logged.

    Args:
        task: passed to :class:`TaskLoss` (CFCML is a classifier: "classification").
        class_weights: cross-entropy class weights.
        label_smoothing: cross-entropy label smoothing.
        temperature: tau of the CCRM similarity (0.07).
        ccrm: compute the CCRM terms (False: the "without CCRM" ablation).
        label_key: batch key of the class index.

    Example:
        >>> loss = CFCMLLoss()
        >>> f = torch.eye(2)
        >>> out = {"logits": torch.zeros(2, 2), "image_embedding": f, "table_embedding": f,
        ...        "image_prototypes": f, "table_prototypes": f, "prototype_counts": torch.ones(2)}
        >>> sorted(loss(out, {"label": torch.tensor([0, 1])}))
        ['ccrm_crossmodal_proto', 'ccrm_sample', 'ccrm_unimodal_proto', 'task']
    """

    def __init__(self, *, task: str = "classification", class_weights: Sequence[float] | None = None,
                 label_smoothing: float = 0.0, temperature: float = 0.07, ccrm: bool = True,
                 label_key: str = "label") -> None:
        super().__init__()
        if task != "classification":
            raise ValueError(f"CFCMLLoss needs a classification task (class prototypes), got {task!r}")
        if not float(temperature) > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        self.task_loss = TaskLoss(task=task, class_weights=class_weights, label_smoothing=label_smoothing,
                                  label_key=label_key)
        self.temperature, self.ccrm, self.label_key = float(temperature), bool(ccrm), label_key

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        terms = dict(self.task_loss(outputs, batch))
        image, table = outputs.get("image_embedding"), outputs.get("table_embedding")
        if not self.ccrm or image is None or table is None or outputs.get("image_prototypes") is None:
            zero = outputs["logits"].sum() * 0.0
            return {**terms, **{name: zero for name in CCRM_TERMS}}
        counts = outputs.get("prototype_counts")
        valid = counts > 0 if counts is not None else None
        terms.update(ccrm_terms(image, table, batch[self.label_key], outputs["image_prototypes"],
                                outputs["table_prototypes"], valid=valid, temperature=self.temperature))
        return terms
