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
"""CITab pretraining losses: image-table contrastive (ITC) and image-table matching with hard negatives (ITM)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from monai_tabular.losses.contrastive import paired_info_nce

__all__ = ["itc_loss", "sample_hard_negatives", "itm_loss", "CITabPretrainLoss"]


def _check_pair(image_embedding: torch.Tensor, table_embedding: torch.Tensor, owner: str) -> None:
    if image_embedding.ndim != 2 or image_embedding.shape != table_embedding.shape:
        raise ValueError(f"{owner}: image and table embeddings must both be (B, D), got "
                         f"{tuple(image_embedding.shape)} and {tuple(table_embedding.shape)}")
    if image_embedding.shape[0] < 2:
        raise ValueError(f"{owner} needs at least 2 pairs per batch (the other pairs are the negatives), got "
                         f"{image_embedding.shape[0]}; use drop_last=True or a larger batch")


def itc_loss(image_embedding: torch.Tensor, table_embedding: torch.Tensor, *, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE: pair ``i`` is the positive of row/column ``i`` of the cosine-similarity matrix.

    Example:
        >>> e = torch.eye(4)
        >>> bool(itc_loss(e, e) < itc_loss(e, e.roll(1, 0)))
        True
    """
    return paired_info_nce(image_embedding, table_embedding, temperature=temperature, owner="itc_loss")


def sample_hard_negatives(similarity: torch.Tensor, *, temperature: float = 0.1,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One negative per row and per column of an image-table similarity matrix (B, B), drawn with probability
    ``softmax(similarity / temperature)`` over the non-matching pairs (the diagonal never drawn): more similar,
    harder negatives more often.

    Returns ``(table_for_image, image_for_table)``: the negative table index of each image and the negative image
    index of each table, each (B,).

    Example:
        >>> t, i = sample_hard_negatives(torch.eye(3))
        >>> bool((t != torch.arange(3)).all() and (i != torch.arange(3)).all())
        True
    """
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1] or similarity.shape[0] < 2:
        raise ValueError(f"sample_hard_negatives needs a square (B, B) similarity with B >= 2, got "
                         f"{tuple(similarity.shape)}")
    sim = similarity.detach().float()
    diagonal = torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
    logits = (sim / float(temperature)).masked_fill(diagonal, float("-inf"))
    table_for_image = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator).squeeze(1)
    image_for_table = torch.multinomial(torch.softmax(logits.t(), dim=1), 1, generator=generator).squeeze(1)
    return table_for_image, image_for_table


def itm_loss(match_logits: torch.Tensor, is_match: torch.Tensor) -> torch.Tensor:
    """Binary matching loss: cross-entropy of (P, 2) no-match/match logits against 0/1 targets (P,).

    Example:
        >>> float(itm_loss(torch.tensor([[0.0, 9.0], [9.0, 0.0]]), torch.tensor([1, 0]))) < 1e-3
        True
    """
    if match_logits.ndim != 2 or match_logits.shape[1] != 2 or match_logits.shape[0] != is_match.shape[0]:
        raise ValueError(f"itm_loss: match_logits must be (P, 2) with one target each, got "
                         f"{tuple(match_logits.shape)} and {tuple(is_match.shape)}")
    return F.cross_entropy(match_logits, is_match.long())


class CITabPretrainLoss:
    """The CITab pretraining terms ``{"itc": ..., "itm": ...}`` of a pretraining forward (no labels needed);
    weight them with the trainer's ``loss_weights``.

    ITC: :func:`itc_loss` of ``outputs["image_embedding"]`` and ``outputs["table_embedding"]``. ITM: for each
    image its own table (match) and a hard-negative table, for each table a hard-negative image
    (:func:`sample_hard_negatives` on the embeddings' similarity), all scored by ``matcher(outputs, image_index,
    table_index) -> (P, 2)`` (the network's ``match_logits``) in one pass.

    Args:
        matcher: the pair scorer, e.g. ``network.match_logits``; ``None`` computes ITC only.
        temperature: ITC temperature (default 0.1).
        negative_temperature: temperature of the hard-negative sampling distribution.
        seed: seed of the negative sampling (``None``: torch's global generator).

    Example:
        >>> loss = CITabPretrainLoss(matcher=None)
        >>> e = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
        >>> sorted(loss({"image_embedding": e, "table_embedding": e}, {}))
        ['itc']
    """

    def __init__(self, *, matcher: Callable[..., torch.Tensor] | None = None, temperature: float = 0.1,
                 negative_temperature: float = 0.1, seed: int | None = None) -> None:
        self.matcher = matcher
        self.temperature, self.negative_temperature = float(temperature), float(negative_temperature)
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))

    def __call__(self, outputs: Mapping[str, Any], batch: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
        missing = [k for k in ("image_embedding", "table_embedding") if k not in outputs]
        if missing:
            raise KeyError(f"CITabPretrainLoss: the network outputs lack {missing}; build CITab with "
                           "pretraining=True; outputs: " + str(sorted(outputs)))
        image, table = outputs["image_embedding"], outputs["table_embedding"]
        terms = {"itc": itc_loss(image, table, temperature=self.temperature)}
        if self.matcher is None:
            return terms
        similarity = image.detach() @ table.detach().t()
        generator = self.generator
        if generator is not None and similarity.device.type != "cpu":
            similarity = similarity.cpu()
        negative_table, negative_image = sample_hard_negatives(similarity, temperature=self.negative_temperature,
                                                               generator=generator)
        own = torch.arange(image.shape[0])
        image_index = torch.cat([own, own, negative_image]).to(image.device)
        table_index = torch.cat([own, negative_table, own]).to(image.device)
        is_match = torch.cat([torch.ones_like(own), torch.zeros_like(own), torch.zeros_like(own)]).to(image.device)
        terms["itm"] = itm_loss(self.matcher(outputs, image_index, table_index), is_match)
        return terms
