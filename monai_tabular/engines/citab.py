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
"""CITab's engine hook: start a fine-tuning run from a CITab pretraining checkpoint; pretrain under
``DistributedDataParallel`` with the matching loss inside the wrapped forward."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from torch import nn

from monai_tabular.handlers.checkpoint import CheckpointLoadError, read_state_dict

__all__ = ["CITabPretrainedLoader", "load_citab_pretrained", "CITabPretrainForward", "PRETRAIN_TERMS"]

logger = logging.getLogger(__name__)

PRETRAIN_TERMS = "pretrain_terms"


def load_citab_pretrained(network: torch.nn.Module, path: str | Path, *, key: str = "network",
                          report_path: str | Path | None = None) -> dict[str, Any]:
    """Load a CITab pretraining checkpoint into a fine-tuning ``CITab`` (``network.load_pretrained``): everything
    but the classifier; another image encoder is refused naming both; header texts never seen in pretraining are
    logged (and written to ``report_path`` as JSON when given).

    Example:
        >>> load_citab_pretrained(net, "runs/citab_pretrain/fold0/model.pt")   # doctest: +SKIP
    """
    path = Path(path)
    state = read_state_dict(path, key=key, hint="run the citab_pretrain bundle first")
    if not hasattr(network, "load_pretrained"):
        raise TypeError(f"{type(network).__name__} is not a CITab network (no load_pretrained)")
    try:
        report = network.load_pretrained(state)
    except ValueError as exc:
        raise CheckpointLoadError(f"checkpoint {path}: {exc}") from None
    logger.info("CITab: loaded %d pretrained tensors from %s; trained from scratch: %s", len(report["loaded"]), path,
                ", ".join(report["new"]) or "none")
    if report_path is not None:
        Path(report_path).parent.mkdir(parents=True, exist_ok=True)
        Path(report_path).write_text(json.dumps({"checkpoint": str(path), **report}, indent=1) + "\n")
    return report


class CITabPretrainedLoader:
    """Ignite handler: :func:`load_citab_pretrained` when training starts from epoch 0 (not on a resume).

    Args:
        load_path: the pretraining run's ``model.pt``; ``""``/``None`` does nothing (training from scratch).
        network: the fine-tuning ``CITab``.
        report_path: where to write what was loaded and the unseen header texts (JSON).
        required: a missing ``load_path`` is an error (fine-tuning must not silently start from scratch; pass
            ``required=False`` for the from-scratch comparison).

    Example:
        >>> CITabPretrainedLoader("runs/pretrain/fold0/model.pt", network=net).attach(trainer)   # doctest: +SKIP
    """

    def __init__(self, load_path: str | Path | None, network: torch.nn.Module, *,
                 report_path: str | Path | None = None, required: bool = False) -> None:
        self.load_path = None if load_path in (None, "") else Path(load_path)
        if required and self.load_path is None:
            raise ValueError("no pretrained checkpoint given: pass the CITab pretraining run's model.pt "
                             "(--pretrained), or train from scratch (--from_scratch true)")
        self.network, self.report_path = network, report_path
        self.report: dict[str, Any] | None = None

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        if self.load_path is not None and engine.state.epoch == 0:
            self.report = load_citab_pretrained(self.network, self.load_path, report_path=self.report_path)


class CITabPretrainForward(nn.Module):
    """A pretraining ``CITab`` whose ``forward`` also computes the pretraining loss terms, for
    ``DistributedDataParallel``.

    The matching (ITM) term fuses hard-negative pairs chosen from the forward's own embeddings, through the
    network's ``match_logits``; called from the loss after ``forward``, those parameters would be used outside
    DDP's forward and break its gradient synchronisation ("marked ready twice"). Wrapped in DDP, this module runs
    forward, negative sampling and matching in one DDP forward, so every parameter's gradient is averaged once per
    step. The outputs are the network's plus ``outputs["pretrain_terms"]``; the trainer's ``loss_function`` is
    :meth:`terms`. It holds no parameters of its own: checkpoint ``.network`` (the bare ``CITab``).

    Args:
        network: a ``CITab`` built with ``pretraining=True``.
        loss: a ``CITabPretrainLoss``; its matcher must be ``network.match_logits`` (or ``None``: ITC only).

    Example:
        >>> step = CITabPretrainForward(network=net, loss=CITabPretrainLoss(matcher=net.match_logits))  # doctest: +SKIP
        >>> ddp = DistributedDataParallel(step, find_unused_parameters=True)   # doctest: +SKIP
        >>> trainer = TabularTrainer(..., network=ddp, loss_function=CITabPretrainForward.terms)   # doctest: +SKIP
    """

    def __init__(self, *, network: nn.Module, loss: Any) -> None:
        super().__init__()
        if not getattr(network, "pretraining", False):
            raise ValueError("CITabPretrainForward needs a CITab built with pretraining=True")
        matcher = getattr(loss, "matcher", None)
        if matcher is not None and getattr(matcher, "__self__", None) is not network:
            raise ValueError("CITabPretrainForward: the loss's matcher must be match_logits of the wrapped network "
                             "(in a bundle: \"loss#matcher\": \"$@network_def.match_logits\"), so that the "
                             "matching runs inside this forward")
        self.network, self.loss = network, loss

    def forward(self, batch: Any) -> dict[str, Any]:
        outputs = self.network(batch)
        return {**outputs, PRETRAIN_TERMS: self.loss(outputs, batch)}

    @staticmethod
    def terms(outputs: Any, batch: Any = None) -> dict[str, torch.Tensor]:
        """The loss terms this module's forward computed (the trainer's ``loss_function``)."""
        if PRETRAIN_TERMS not in outputs:
            raise KeyError(f"no {PRETRAIN_TERMS!r} in the network outputs: wrap the network in CITabPretrainForward")
        return outputs[PRETRAIN_TERMS]
