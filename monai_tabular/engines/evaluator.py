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

__all__ = ["TabularEvaluator", "EVAL_MODES", "validation_threshold"]

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


def validation_threshold(*, network: torch.nn.Module, records: list[dict], transform: Callable,
                         device: str | torch.device, checkpoint: str | None = None, mode: str = "both",
                         batch_size: int = 8, num_workers: int = 0, amp: bool = False) -> float:
    """Youden's J threshold on P(positive) of a binary classifier, chosen on the validation ``records`` (with the
    ``checkpoint`` weights when given), to apply to the test set's thresholded metrics. The loader is built
    here, only when a threshold is asked for.

    Example:
        >>> threshold = validation_threshold(network=net, records=fold.val, transform=preprocessing,
        ...                                  device="cpu", checkpoint="runs/fold0/model.pt")   # doctest: +SKIP
    """
    import numpy as np
    from ignite.engine import Events
    from monai.data import DataLoader, Dataset

    from monai_tabular.handlers.checkpoint import load_checkpoint
    from monai_tabular.metrics import youden_threshold

    if not records:
        raise ValueError("a Youden threshold needs validation subjects; this fold has none")
    if checkpoint:
        load_checkpoint(checkpoint, {"network": network})
    loader = DataLoader(Dataset(records, transform=transform), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers)
    evaluator = TabularEvaluator(device=device, val_data_loader=loader, network=network, mode=mode, amp=amp)
    scores, labels = [], []

    def collect(engine: TabularEvaluator) -> None:
        output = engine.state.output
        scores.append(torch.softmax(output[Keys.PRED].detach().float().cpu(), dim=-1).numpy())
        labels.append(output[Keys.LABEL].detach().cpu().numpy().reshape(-1))

    evaluator.add_event_handler(Events.ITERATION_COMPLETED, collect)
    evaluator.run()
    probabilities = np.concatenate(scores)
    if probabilities.shape[1] != 2:
        raise ValueError(f"a Youden threshold needs a binary classifier, got {probabilities.shape[1]} classes")
    return youden_threshold(np.concatenate(labels).astype(int), probabilities[:, 1])
