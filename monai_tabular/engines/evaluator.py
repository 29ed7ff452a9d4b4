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
"""Evaluator on MONAI's ``SupervisedEvaluator`` with evaluation modes ``both``, ``image_only``, ``table_only``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from monai.engines import SupervisedEvaluator
from monai.utils import CommonKeys as Keys

from monai_tabular.engines.prepare_batch import PrepareTabularBatch
from monai_tabular.engines.trainer import autocast_context, logits_of

__all__ = ["TabularEvaluator", "EVAL_MODES"]

EVAL_MODES = ("both", "image_only", "table_only")


class TabularEvaluator(SupervisedEvaluator):
    """Evaluate a ``forward(batch) -> dict`` network in a chosen modality mode.

    The mode is set on the network (its ``mode`` attribute) for each evaluation iteration and restored after it,
    so validation during training never changes the training mode. Networks without a ``mode`` attribute accept
    only ``"both"``.

    Args:
        device: torch device.
        val_data_loader: loader of batch dicts.
        network: the network.
        mode: ``"both"``, ``"image_only"`` or ``"table_only"``.
        amp: autocast during inference.
        kwargs: passed to ``monai.engines.SupervisedEvaluator`` (``key_val_metric``, ``additional_metrics``,
            ``val_handlers`` ...).

    The iteration output holds ``label``, ``pred`` (logits), ``outputs`` (the network's dict) and
    ``subject_id`` (list) for prediction writers.

    Example:
        >>> evaluator = TabularEvaluator(device="cpu", val_data_loader=loader, network=net,
        ...                              mode="image_only")   # doctest: +SKIP
    """

    def __init__(self, device: str | torch.device, val_data_loader, network: torch.nn.Module, *, mode: str = "both",
                 amp: bool = False, prepare_batch: Callable | None = None, **kwargs: Any) -> None:
        if mode not in EVAL_MODES:
            raise ValueError(f"evaluation mode must be one of {list(EVAL_MODES)}, got {mode!r}")
        if mode != "both" and not hasattr(network, "mode"):
            raise ValueError(f"{type(network).__name__} has no modality modes; it can only be evaluated with "
                             "mode='both'")
        if mode != "both":  # the network's own setter refuses a mode it cannot run: fail now, not mid-run
            previous = network.mode
            network.mode = mode
            network.mode = previous
        kwargs.setdefault("decollate", False)
        super().__init__(device=torch.device(device), val_data_loader=val_data_loader, network=network,
                         prepare_batch=prepare_batch or PrepareTabularBatch(), amp=False, **kwargs)
        self.mode = mode
        self.use_amp = bool(amp)

    def _iteration(self, engine: TabularEvaluator, batchdata: Mapping[str, Any]) -> dict:
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        batch, targets = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking,
                                              **engine.to_kwargs)[:2]
        network = engine.network
        previous = getattr(network, "mode", None)
        if previous is not None:
            network.mode = engine.mode
        try:
            network.eval()
            with torch.no_grad(), autocast_context(engine.state.device, engine.use_amp):
                outputs = network(batch)
        finally:
            if previous is not None:
                network.mode = previous
        engine.state.output = {Keys.IMAGE: batch.get("image"), Keys.LABEL: targets, Keys.PRED: logits_of(outputs),
                               "outputs": outputs, "subject_id": list(batchdata.get("subject_id", []))}
        return engine.state.output
