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
"""Trainer on MONAI's ``SupervisedTrainer``: networks return a dict of outputs, losses a dict of named terms.

A method supplies a network whose ``forward(batch)`` returns a dict (with ``"logits"``) and a loss whose
``__call__(outputs, batch)`` returns a tensor or a dict of named terms; the trainer weights and sums the terms,
logs each one, and handles AMP, gradient accumulation and gradient clipping. Methods that need several
optimisation steps per iteration (alternating modalities) pass a ``step_function``; epoch-level work
(re-alignment) is an ignite handler on ``Events.EPOCH_STARTED``/``EPOCH_COMPLETED``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from monai.engines import SupervisedTrainer
from monai.utils import CommonKeys as Keys

from monai_tabular.engines.prepare_batch import PrepareTabularBatch

__all__ = ["TabularTrainer", "combine_loss_terms", "autocast_context", "logits_of"]


def logits_of(outputs: Any) -> torch.Tensor:
    """The prediction tensor of a network output: ``outputs["logits"]`` for dict outputs."""
    if isinstance(outputs, Mapping):
        if "logits" not in outputs:
            raise KeyError(f"the network's output dict needs a 'logits' entry; it has {list(outputs)}")
        return outputs["logits"]
    return outputs


def combine_loss_terms(terms: torch.Tensor | Mapping[str, torch.Tensor],
                       weights: Mapping[str, float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of named loss terms; returns the total and each (unweighted) term as a float for logging.

    A term without a weight has weight 1. A weight for a term the loss does not return is an error, so a typo in
    a config does not silently disable a term.

    Example:
        >>> total, logged = combine_loss_terms({"task": torch.tensor(1.0), "aux": torch.tensor(2.0)}, {"aux": 0.5})
        >>> float(total), logged
        (2.0, {'task': 1.0, 'aux': 2.0})
    """
    if isinstance(terms, torch.Tensor):
        return terms.mean(), {"loss": float(terms.detach().mean())}
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(terms))
    if unknown:
        raise KeyError(f"loss weights name term(s) {unknown} that the loss does not return; terms: {sorted(terms)}")
    if not terms:
        raise ValueError("the loss returned no terms")
    total = sum(float(weights.get(name, 1.0)) * value.mean() for name, value in terms.items())
    return total, {name: float(value.detach().mean()) for name, value in terms.items()}


def autocast_context(device: torch.device | str, enabled: bool):
    """``torch.autocast`` for the device (float16 on CUDA, bfloat16 on CPU) or a no-op when disabled."""
    if not enabled:
        return nullcontext()
    device_type = torch.device(device).type
    return torch.autocast(device_type, dtype=torch.float16 if device_type == "cuda" else torch.bfloat16)


class TabularTrainer(SupervisedTrainer):
    """Supervised trainer for image + table networks with named, weighted loss terms.

    Args:
        device: torch device.
        max_epochs: number of epochs.
        train_data_loader: loader of batch dicts.
        network: ``forward(batch) -> dict`` with ``"logits"`` (or a tensor).
        optimizer: torch optimiser.
        loss_function: ``loss(outputs, batch) -> tensor | dict[name, tensor]``; a plain ``torch.nn`` loss
            (``_Loss``) is called as ``loss(logits, label)``.
        loss_weights: weight per named term (default 1 each).
        step_function: replaces the default optimisation step: ``step(engine, batch) -> (outputs, terms)``; it
            does its own backward/optimizer steps (e.g. one step per modality) and returns what to log.
        clip_grad_norm: clip the global gradient norm before each optimizer step.
        amp: mixed precision (CUDA float16 with a grad scaler; CPU bfloat16).
        accumulation_steps: accumulate gradients over this many iterations per optimizer step.
        kwargs: passed to ``monai.engines.SupervisedTrainer`` (``train_handlers``, ``key_train_metric``,
            ``epoch_length``, ``inferer`` ...).

    The iteration output holds ``image``, ``label``, ``pred`` (the logits), ``loss`` (weighted total),
    ``loss_terms`` (dict of floats, for ``StatsHandler(output_transform=lambda o: o["loss_terms"])``) and
    ``outputs`` (the network's dict).

    Example:
        >>> trainer = TabularTrainer(device="cpu", max_epochs=2, train_data_loader=loader, network=net,
        ...                          optimizer=opt, loss_function=TaskLoss())   # doctest: +SKIP
        >>> trainer.run()                                                          # doctest: +SKIP
    """

    def __init__(self, device: str | torch.device, max_epochs: int, train_data_loader, network: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, loss_function: Callable, *,
                 loss_weights: Mapping[str, float] | None = None, step_function: Callable | None = None,
                 clip_grad_norm: float | None = None, amp: bool = False, accumulation_steps: int = 1,
                 prepare_batch: Callable | None = None, **kwargs: Any) -> None:
        if accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
        kwargs.setdefault("decollate", False)
        super().__init__(device=torch.device(device), max_epochs=max_epochs, train_data_loader=train_data_loader,
                         network=network, optimizer=optimizer, loss_function=loss_function,
                         prepare_batch=prepare_batch or PrepareTabularBatch(), amp=False, **kwargs)
        self.use_amp = bool(amp)
        self.loss_weights = dict(loss_weights or {})
        self.step_function = step_function
        self.clip_grad_norm = clip_grad_norm
        self.grad_accumulation = int(accumulation_steps)
        cuda_fp16 = self.use_amp and torch.device(device).type == "cuda"
        self.grad_scaler = torch.amp.GradScaler("cuda") if cuda_fp16 else None

    def compute_loss(self, outputs: Any, batch: Mapping[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Call the loss with the right signature and combine its terms."""
        if isinstance(self.loss_function, torch.nn.modules.loss._Loss):
            terms = self.loss_function(logits_of(outputs), batch["label"])
        else:
            terms = self.loss_function(outputs, batch)
        total, logged = combine_loss_terms(terms, self.loss_weights)
        return total, logged

    def check_finite(self, engine, total: torch.Tensor, logged: Mapping[str, float]) -> None:
        if not torch.isfinite(total.detach()):
            raise FloatingPointError(f"loss is {float(total.detach())} at epoch {engine.state.epoch}, iteration "
                                     f"{engine.state.iteration}; terms: {dict(logged)}. Lower the learning rate or "
                                     "check the inputs of this batch (subjects: "
                                     f"{list(engine.state.batch.get('subject_id', []))[:8]}).")

    def _optimizer_step(self) -> None:
        if self.clip_grad_norm is not None:
            if self.grad_scaler is not None:
                self.grad_scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.clip_grad_norm)
        if self.grad_scaler is not None:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()

    def _iteration(self, engine: TabularTrainer, batchdata: Mapping[str, Any]) -> dict:
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        batch, targets = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking,
                                              **engine.to_kwargs)[:2]
        engine.network.train()
        if engine.step_function is not None:
            outputs, logged = engine.step_function(engine, batch)
            total = torch.tensor(sum(logged.values()))
        else:
            acc = engine.grad_accumulation
            local = (engine.state.iteration - 1) % (engine.state.epoch_length or engine.state.iteration)
            last = engine.state.epoch_length is not None and local + 1 == engine.state.epoch_length
            if local % acc == 0:
                engine.optimizer.zero_grad(set_to_none=True)
            with autocast_context(engine.state.device, engine.use_amp):
                outputs = engine.network(batch)
                total, logged = engine.compute_loss(outputs, batch)
            engine.check_finite(engine, total, logged)
            scaled = total / acc if acc > 1 else total
            (engine.grad_scaler.scale(scaled) if engine.grad_scaler is not None else scaled).backward()
            if (local + 1) % acc == 0 or last:
                engine._optimizer_step()
        engine.state.output = {Keys.IMAGE: batch.get("image"), Keys.LABEL: targets, Keys.PRED: logits_of(outputs),
                               Keys.LOSS: total.detach(), "loss_terms": logged, "outputs": outputs}
        return engine.state.output
