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
"""MT-CMTM pretraining loss: image-table InfoNCE + corruption-mask prediction (+ optional reconstruction)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from monai_tabular.losses.contrastive import paired_info_nce

__all__ = ["info_nce", "MTCMTMLoss"]

MASK_LOSSES = ("l1", "bce")


def info_nce(first: torch.Tensor, second: torch.Tensor, *, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE between two batches of paired embeddings: row i of each is the positive pair, every
    other row of the other batch a negative.

    Example:
        >>> x = torch.eye(4)
        >>> bool(info_nce(x, x) < info_nce(x, x.roll(1, 0)))
        True
    """
    return paired_info_nce(first, second, temperature=temperature, owner="info_nce")


def _cells(batch: Mapping[str, Any], key: str, like: torch.Tensor, width: int) -> torch.Tensor:
    value = batch.get(key)
    if value is None:
        if width:
            raise KeyError(f"MTCMTMLoss: the batch has no {key!r} (put CorruptTabled after EncodeTabled in the "
                           f"training transforms); keys present: {sorted(map(str, batch))}")
        return like.new_zeros(like.shape[0], 0)
    return torch.as_tensor(value, device=like.device).float()


def _observed(batch: Mapping[str, Any], key: str, like: torch.Tensor, width: int) -> torch.Tensor:
    mask = batch.get(f"{key}_mask")
    if mask is None:
        return like.new_ones(like.shape[0], width)
    return (torch.as_tensor(mask, device=like.device) > 0.5).float()


class MTCMTMLoss(torch.nn.Module):
    """``lambda_c * InfoNCE(image, corrupted table) + lambda_m * mask prediction (+ lambda_r * reconstruction)``.

    Returns the weighted terms ``{"contrastive", "mask", "reconstruction"}`` (a term whose lambda is 0 is left
    out, so ``lambda_c=0`` needs no image). Mask prediction scores, on the observed cells only, how well
    ``sigmoid(mask_logits)`` predicts the corruption flags written by ``CorruptTabled``: L1 (the paper's choice,
    default) or binary cross-entropy. Missing cells are never scored (they are never corrupted either).
    Reconstruction: mean squared error of the standardised numerical values plus cross-entropy of the categories,
    on observed cells, against ``numerical_original`` / ``categorical_original``.

    Args:
        lambda_c: weight of the contrastive term (default 1).
        lambda_m: weight of the mask-prediction term (default 1).
        lambda_r: weight of the reconstruction term (default 0: off; needs ``reconstruction=True`` in the net).
        mask_loss: ``"l1"`` or ``"bce"``.
        temperature: InfoNCE temperature (default 0.1).

    Example:
        >>> loss = MTCMTMLoss(lambda_c=0.0)
        >>> out = {"mask_logits": torch.zeros(2, 3)}
        >>> batch = {"numerical": torch.zeros(2, 3), "numerical_corruption": torch.tensor([[1., 0, 0], [0, 0, 1]])}
        >>> {k: round(float(v), 3) for k, v in loss(out, batch).items()}
        {'mask': 0.5}
    """

    def __init__(self, *, lambda_c: float = 1.0, lambda_m: float = 1.0, lambda_r: float = 0.0, mask_loss: str = "l1",
                 temperature: float = 0.1) -> None:
        super().__init__()
        for name, value in (("lambda_c", lambda_c), ("lambda_m", lambda_m), ("lambda_r", lambda_r)):
            if float(value) < 0:
                raise ValueError(f"MTCMTMLoss: {name} must be >= 0, got {value!r}")
        if float(lambda_c) == float(lambda_m) == float(lambda_r) == 0.0:
            raise ValueError("MTCMTMLoss: every lambda is 0; nothing to train")
        if mask_loss not in MASK_LOSSES:
            raise ValueError(f"MTCMTMLoss: mask_loss must be one of {list(MASK_LOSSES)}, got {mask_loss!r}")
        if float(temperature) <= 0:
            raise ValueError(f"MTCMTMLoss: temperature must be > 0, got {temperature!r}")
        self.lambda_c, self.lambda_m, self.lambda_r = float(lambda_c), float(lambda_m), float(lambda_r)
        self.mask_loss, self.temperature = mask_loss, float(temperature)

    def _require(self, outputs: Mapping[str, Any], key: str, why: str) -> torch.Tensor:
        if key not in outputs:
            raise KeyError(f"MTCMTMLoss: the network output has no {key!r}, needed for {why}; it has "
                           f"{sorted(outputs)}")
        return outputs[key]

    def mask_term(self, mask_logits: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        n_numerical = _width(batch, "numerical")
        n_categorical = mask_logits.shape[1] - n_numerical
        flags = torch.cat([_cells(batch, "numerical_corruption", mask_logits, n_numerical),
                           _cells(batch, "categorical_corruption", mask_logits, n_categorical)], dim=1)
        observed = torch.cat([_observed(batch, "numerical", mask_logits, n_numerical),
                              _observed(batch, "categorical", mask_logits, n_categorical)], dim=1)
        if flags.shape != mask_logits.shape:
            raise ValueError(f"MTCMTMLoss: mask logits {tuple(mask_logits.shape)} do not match the corruption flags "
                             f"{tuple(flags.shape)}")
        logits = mask_logits.float()
        if self.mask_loss == "l1":
            per_cell = (torch.sigmoid(logits) - flags).abs()
        else:
            per_cell = F.binary_cross_entropy_with_logits(logits, flags, reduction="none")
        return (per_cell * observed).sum() / observed.sum().clamp_min(1.0)

    def reconstruction_term(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> torch.Tensor:
        terms = []
        numerical = outputs.get("numerical_reconstruction")
        if numerical is not None and numerical.shape[1]:
            target = _cells(batch, "numerical_original", numerical, numerical.shape[1])
            observed = _observed(batch, "numerical", numerical, numerical.shape[1])
            squared = (numerical.float() - target) ** 2 * observed
            terms.append(squared.sum() / observed.sum().clamp_min(1.0))
        categorical = outputs.get("categorical_reconstruction")
        if categorical is not None and categorical.shape[1]:
            target = _cells(batch, "categorical_original", categorical, categorical.shape[1]).long()
            observed = _observed(batch, "categorical", categorical, categorical.shape[1])
            per_cell = F.cross_entropy(categorical.float().transpose(1, 2), target, reduction="none")
            terms.append((per_cell * observed).sum() / observed.sum().clamp_min(1.0))
        if not terms:
            raise KeyError("MTCMTMLoss: lambda_r > 0 but the network returns no reconstruction (build it with "
                           "reconstruction=True)")
        return sum(terms)

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        if self.lambda_c:
            image = self._require(outputs, "image_projection", "the contrastive term (lambda_c > 0; use "
                                  "lambda_c=0 for the no-image ablation)")
            table = self._require(outputs, "table_projection", "the contrastive term")
            terms["contrastive"] = self.lambda_c * info_nce(image, table, temperature=self.temperature)
        if self.lambda_m:
            terms["mask"] = self.lambda_m * self.mask_term(self._require(outputs, "mask_logits", "mask prediction"),
                                                           batch)
        if self.lambda_r:
            terms["reconstruction"] = self.lambda_r * self.reconstruction_term(outputs, batch)
        return terms


def _width(batch: Mapping[str, Any], key: str) -> int:
    value = batch.get(key)
    return int(value.shape[1]) if isinstance(value, torch.Tensor) and value.ndim == 2 else 0
