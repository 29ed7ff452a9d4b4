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
"""GAAL's alternating step for ``TabularTrainer(step_function=...)``: one optimiser step per modality.

Per iteration, for each modality of :class:`~monai_tabular.networks.gaal.GAALNetwork` in turn (image, then each
table view): ``zero_grad`` -> the modality's branch + the shared classifier psi on its loss -> backward -> gradient
surgery on psi's gradient only -> ``optimizer.step()`` (the trainer's optimiser over all parameters; parameters
without a gradient are left alone). The surgery's reference ``g_p`` is the loss gradient on psi of the top-lambda
highest-entropy samples of the previous modality's step, computed from that step's detached features: one extra
forward/backward of psi alone, never another encoder pass.

Several processes (``torch.distributed``, e.g. ``bundles/gaal/configs/multi_gpu_train.json`` under ``torchrun``)
run GAAL without DistributedDataParallel: every process holds the bare network (same weights) and its shard of the
global batch, and the step synchronises what one process would compute on the whole global batch. Each modality's
local loss is a sum over its rows divided by the global row count, so averaging the gradients over processes right
after the backward (before the surgery) gives the gradient of the global-batch mean loss even when processes have
different numbers of rows with that modality. Each process picks its hard samples from its own rows; ``g_p`` is
the gradient of the mean loss over the union of all processes' hard samples (each process's hard-sample gradient
weighted by its hard-sample count). The surgery, the step and therefore the weights are identical on every
process; floating-point buffers (BatchNorm running statistics) are averaged over processes after each iteration.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from ignite.engine import Events

from monai_tabular.engines.trainer import autocast_context
from monai_tabular.losses.gaal import (DEFAULT_EPSILON, DEFAULT_HARD_FRACTION, check_hard_fraction,
                                       hard_sample_count, hard_samples, surgery_coefficients)
from monai_tabular.metrics.report import agg_figure
from monai_tabular.utils.distributed import all_reduce_sum, average_gradients, is_distributed, rank_and_world

__all__ = ["GAALStep", "HISTORY_FIELDS", "plot_gradient_history"]

logger = logging.getLogger(__name__)

HISTORY_FIELDS = ("epoch", "iteration", "modality", "reference", "n_samples", "n_hard", "loss", "cos_hard",
                  "cos_previous", "cos_after", "surgery_v", "skipped")
HISTORY_FILE = "gaal_gradients.csv"
PLOT_FILE = "gaal_gradients.png"


def _flat_grad(parameters: Sequence[torch.nn.Parameter]) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1).float()
                      for p in parameters])


def _set_flat_grad(parameters: Sequence[torch.nn.Parameter], flat: torch.Tensor) -> None:
    offset = 0
    for p in parameters:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).to(p.dtype).clone()
        offset += n


def _average_buffers(network: torch.nn.Module) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over processes; integer buffers (BatchNorm's
    ``num_batches_tracked``) take their largest value, so every process ends an iteration with the same state."""
    buffers = list(network.buffers())
    floating = [b for b in buffers if b.is_floating_point()]
    integer = [b for b in buffers if not b.is_floating_point() and b.dtype != torch.bool]
    if floating:
        flat = all_reduce_sum(torch.cat([b.detach().reshape(-1).double() for b in floating]))
        flat /= rank_and_world()[1]
        _copy_flat(floating, flat)
    if integer:
        flat = torch.cat([b.detach().reshape(-1).long() for b in integer])
        dist.all_reduce(flat, op=dist.ReduceOp.MAX)
        _copy_flat(integer, flat)


def _copy_flat(tensors: Sequence[torch.Tensor], flat: torch.Tensor) -> None:
    offset = 0
    with torch.no_grad():
        for tensor in tensors:
            n = tensor.numel()
            tensor.copy_(flat[offset:offset + n].view_as(tensor))
            offset += n


def _cosine(dot: float, norm2_a: float, norm2_b: float) -> float:
    """Cosine from a dot product and two squared norms; NaN when a vector is zero."""
    denominator = math.sqrt(norm2_a * norm2_b)
    return dot / denominator if denominator > 0 else float("nan")


class GAALStep:
    """The GAAL iteration as a ``TabularTrainer`` ``step_function(engine, batch) -> (outputs, logged_terms)``.

    Args:
        hard_fraction: lambda, the fraction of highest-entropy samples of a modality's step whose psi-gradient
            guides the next modality's step: one value in (0, 1] for all (default 0.5) or ``{modality: value}``
            (modalities left out get 0.5). ``ceil(lambda * n)`` samples are kept, at least 1: a batch too small for
            lambda keeps one sample (documented clamping, not an error).
        epsilon: margin of the surgery on psi (default 0.75): when ``g_p . g < epsilon`` the current gradient
            becomes ``g + v g_p``, ``v = max(0, (epsilon - g_p . g) / ||g_p||^2)``, so that ``g' . g_p = epsilon``.
            It is a dot product in the gradients' own units (not a cosine), as in the paper's rule: 0 only removes
            conflicts; with small gradients (late in training) 0.75 makes ``v`` large and the corrected psi
            gradient follows ``g_p``; the trainer's ``clip_grad_norm`` bounds such steps, or see ``normalize``.
        normalize: apply the surgery to unit-length gradients (``epsilon`` becomes a margin on the cosine) and
            keep the norm of ``g`` (a scale-free variant; default ``False``, the rule as written).
        surgery: ``False`` is the ablation "alternating training without surgery" (the gradients and their
            cosine are still logged).
        class_weights: per-class cross-entropy weights.
        label_smoothing: cross-entropy label smoothing.
        label_key: batch key of the class index.
        log_dir: where ``gaal_gradients.csv`` (one row per modality step: cosine between this step's psi gradient
            and the previous modality's hard-sample gradient ``cos_hard`` and full-batch gradient
            ``cos_previous``, after surgery ``cos_after``, ``surgery_v``, skipped steps) is appended after each
            epoch and ``gaal_gradients.png`` drawn at the end; ``None``: kept in ``history`` only. In a distributed
            run only rank 0 writes them (every process keeps the same history).

    Distributed runs (several processes, no DDP wrapper; see the module docstring): gradients are averaged over
    processes after each modality's backward and before the surgery, ``g_p`` is the mean-loss gradient over all
    processes' hard samples, and ``n_samples``, ``n_hard`` and ``loss`` in the history and the logged loss terms
    are those of the global batch. Wrapping the network in DistributedDataParallel is refused.

    The first call attaches the file writers to the trainer. A modality that no sample of the batch has (e.g.
    every table missing) is skipped with a warning, counted in ``engine.state.gaal_skipped`` and logged in the
    history; a non-finite loss raises ``FloatingPointError`` naming the modality step.

    Example:
        >>> step = GAALStep(hard_fraction={"image": 0.25}, epsilon=0.75)
        >>> step.fraction("image"), step.fraction("table")
        (0.25, 0.5)
        >>> trainer = TabularTrainer(device="cpu", max_epochs=1, train_data_loader=loader, network=gaal_net,
        ...                          optimizer=opt, loss_function=None, step_function=step)   # doctest: +SKIP
    """

    def __init__(self, *, hard_fraction: float | Mapping[str, float] = DEFAULT_HARD_FRACTION,
                 epsilon: float = DEFAULT_EPSILON, surgery: bool = True, normalize: bool = False,
                 class_weights: Sequence[float] | None = None, label_smoothing: float = 0.0,
                 label_key: str = "label", log_dir: str | Path | None = None) -> None:
        if isinstance(hard_fraction, Mapping):
            self.hard_fraction = {str(k): check_hard_fraction(v, "GAALStep") for k, v in hard_fraction.items()}
        else:
            self.hard_fraction = check_hard_fraction(hard_fraction, "GAALStep")
        self.epsilon = float(epsilon)
        self.surgery = bool(surgery)
        self.normalize = bool(normalize)
        self.class_weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.label_smoothing = float(label_smoothing)
        self.label_key = label_key
        self.log_dir = Path(log_dir) if log_dir else None
        self.history: list[dict[str, Any]] = []
        self._written = 0
        self._attached: set[int] = set()
        self._hard: tuple[str, torch.Tensor, torch.Tensor] | None = None  # (modality, detached features, labels)
        self._previous: tuple[str, torch.Tensor] | None = None  # (modality, its psi gradient before surgery)

    def records(self) -> list[dict[str, Any]]:
        """The history: one dict of plain numbers per modality step (``HISTORY_FIELDS``)."""
        return self.history

    def fraction(self, modality: str) -> float:
        if isinstance(self.hard_fraction, dict):
            return self.hard_fraction.get(modality, DEFAULT_HARD_FRACTION)
        return self.hard_fraction

    def attach(self, engine) -> None:
        """Write the gradient history after each epoch and plot it when training completes (``log_dir`` set)."""
        if id(engine) in self._attached or self.log_dir is None:
            return
        self._attached.add(id(engine))
        engine.add_event_handler(Events.EPOCH_COMPLETED, lambda _: self.write_history())
        engine.add_event_handler(Events.COMPLETED, lambda _: self.plot())

    def _loss_terms(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of the rows' cross-entropies, the mean's denominator: the row count or, with class weights, the sum
        of the rows' class weights); their ratio is ``F.cross_entropy``'s mean."""
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        total = F.cross_entropy(logits.float(), labels, weight=weight, label_smoothing=self.label_smoothing,
                                reduction="sum")
        denominator = torch.tensor(float(labels.numel()), device=logits.device) if weight is None \
            else weight[labels].sum()
        return total, denominator

    def _reference(self, network, psi: list[torch.nn.Parameter]) -> torch.Tensor | None:
        """g_p: psi-gradient of the mean loss of the cached hard samples of the previous modality (psi
        forward/backward only); in a distributed run, over every process's hard samples."""
        if self._hard is None:
            return None
        _, features, labels = self._hard
        if features.shape[0] > 0:
            with torch.enable_grad():
                total, denominator = self._loss_terms(network.classifier(features), labels)
                grads = torch.autograd.grad(total, psi)
            local = torch.cat([g.reshape(-1).float() for g in grads] + [denominator.float().view(1)])
        else:  # this process had none of the previous modality's rows; the others had some
            local = torch.zeros(sum(p.numel() for p in psi) + 1, device=psi[0].device)
        summed = all_reduce_sum(local)
        return summed[:-1] / summed[-1]

    def _check_engine(self, engine) -> Any:
        network = engine.network
        if isinstance(network, torch.nn.parallel.DistributedDataParallel):
            raise ValueError("GAALStep calls the network's branches directly, which DistributedDataParallel does "
                             "not synchronise: give GAALStep the bare network (it averages the gradients over "
                             "processes itself), e.g. with bundles/gaal/configs/multi_gpu_train.json instead of a "
                             "DDP-wrapped network")
        if getattr(engine, "grad_accumulation", 1) != 1:
            raise ValueError("GAALStep makes one optimiser step per modality: accumulation_steps must be 1, got "
                             f"{engine.grad_accumulation}")
        for name in ("modalities", "presence", "encode", "classify", "classifier"):
            if not hasattr(network, name):
                raise TypeError(f"GAALStep needs a GAALNetwork-like network (with {name!r}); got "
                                f"{type(network).__name__}")
        return network

    def _step_optimizer(self, engine) -> None:
        scaler = getattr(engine, "grad_scaler", None)
        if engine.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(engine.network.parameters(), engine.clip_grad_norm)
        if scaler is not None:
            scaler.step(engine.optimizer)
            scaler.update()
        else:
            engine.optimizer.step()

    def __call__(self, engine, batch: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        network = self._check_engine(engine)
        self.attach(engine)
        labels = batch[self.label_key].long().view(-1)
        size = labels.shape[0]
        total = torch.zeros(size, network.classifier.out_features, device=labels.device)
        count = torch.zeros(size, device=labels.device)
        logged: dict[str, float] = {}
        for modality in network.modalities:
            done = self._modality_step(engine, network, batch, modality, labels)
            if done is None:
                continue
            rows, logits, logged[f"loss_{modality}"] = done
            total = total.index_add(0, rows, logits)
            count = count.index_add(0, rows, torch.ones(rows.numel(), device=labels.device))
        if is_distributed():
            _average_buffers(network)
        return {"logits": total / count.clamp(min=1)[:, None]}, logged

    def _skip(self, engine, row: dict[str, Any]) -> None:
        modality = row["modality"]
        skipped = getattr(engine.state, "gaal_skipped", {})
        skipped[modality] = skipped.get(modality, 0) + 1
        engine.state.gaal_skipped = skipped
        logger.warning("GAAL: no sample of epoch %s iteration %s has the %s modality; its step is skipped",
                       engine.state.epoch, engine.state.iteration, modality)
        self.history.append({**row, "n_samples": 0, "skipped": 1})

    def _modality_step(self, engine, network, batch: Mapping[str, Any], modality: str, labels: torch.Tensor,
                       ) -> tuple[torch.Tensor, torch.Tensor, float] | None:
        """One optimiser step on ``modality``; returns (rows used, their detached logits, loss) or ``None`` when
        no sample (of any process) has the modality."""
        row = {"epoch": engine.state.epoch, "iteration": engine.state.iteration, "modality": modality,
               "reference": self._hard[0] if self._hard is not None else "", "skipped": 0}
        present = network.presence(batch, modality).to(labels.device)
        n_present = int(present.sum())
        n_hard = hard_sample_count(n_present, self.fraction(modality))
        n_all, n_hard_all = n_present, n_hard
        if is_distributed():
            counts = all_reduce_sum(torch.tensor([n_present, n_hard], dtype=torch.long, device=labels.device))
            n_all, n_hard_all = counts.tolist()
        if n_all == 0:
            self._skip(engine, row)
            return None
        rows = torch.arange(labels.shape[0], device=labels.device) if n_present == labels.shape[0] \
            else present.nonzero().squeeze(1)
        index = None if n_present == labels.shape[0] else rows
        target = labels[rows]
        psi = list(network.classifier.parameters())
        scaler = getattr(engine, "grad_scaler", None)
        engine.optimizer.zero_grad(set_to_none=True)
        features = logits = None
        local_sum = denominator = torch.zeros((), device=labels.device)
        if n_present > 0:
            with autocast_context(engine.state.device, engine.use_amp):
                features = network.encode(batch, modality, index)
                logits = network.classify(features)
            local_sum, denominator = self._loss_terms(logits, target)
        # the global-batch mean loss; its terms summed over processes (identity in one process)
        summed = all_reduce_sum(torch.stack([local_sum.detach(), denominator.float()]))
        world = rank_and_world()[1]
        if logits is not None:
            loss = local_sum * (world / summed[1])  # averaged over processes below: the global mean's gradient
            (scaler.scale(loss) if scaler is not None else loss).backward()
        average_gradients(engine.network.parameters())  # before the surgery: identical on every process
        if scaler is not None:
            scaler.unscale_(engine.optimizer)
        gradient = _flat_grad(psi)
        reference = self._reference(network, psi)
        previous = self._previous[1] if self._previous is not None else None
        zeros = torch.zeros_like(gradient)
        vectors = torch.stack([gradient, zeros if reference is None else reference,
                               zeros if previous is None else previous]).double()
        # one read from the device per step: the loss (finite check) and the Gram matrix of the gradients
        mean_loss = (summed[0] / summed[1]).double().view(1)
        host = torch.cat([mean_loss, (vectors @ vectors.T).flatten()]).cpu().tolist()
        value, gram = host[0], [host[1:4], host[4:7], host[7:10]]
        if not math.isfinite(value):
            subjects = list(batch.get("subject_id", []))[:8]
            raise FloatingPointError(f"GAAL {modality} step: loss is {value} at epoch {engine.state.epoch}, "
                                     f"iteration {engine.state.iteration} (subjects {subjects}). Lower the "
                                     f"learning rate or check this batch's {modality}.")
        a, b, v = 1.0, 0.0, 0.0
        if self.surgery and reference is not None:
            a, b, v = surgery_coefficients(g_dot_g=gram[0][0], g_dot_ref=gram[0][1], ref_dot_ref=gram[1][1],
                                           epsilon=self.epsilon, normalize=self.normalize)
            if v > 0.0:
                _set_flat_grad(psi, a * gradient + b * reference)
        self._step_optimizer(engine)
        after_dot = a * gram[0][1] + b * gram[1][1]
        after_norm2 = a * a * gram[0][0] + 2 * a * b * gram[0][1] + b * b * gram[1][1]
        nan = float("nan")
        self.history.append({
            **row, "n_samples": n_all, "n_hard": n_hard_all, "loss": value,
            "cos_hard": _cosine(gram[0][1], gram[0][0], gram[1][1]) if reference is not None else nan,
            "cos_previous": _cosine(gram[0][2], gram[0][0], gram[2][2]) if previous is not None else nan,
            "cos_after": _cosine(after_dot, after_norm2, gram[1][1]) if reference is not None else nan,
            "surgery_v": v})
        self._previous = (modality, gradient)
        if logits is None:  # no local row: the global step ran, this process only took part in it
            self._hard = (modality, torch.zeros(0, network.classifier.in_features, device=labels.device), target)
            return rows, torch.zeros(0, network.classifier.out_features, device=labels.device), value
        hard = hard_samples(logits.detach(), self.fraction(modality))
        self._hard = (modality, features.detach().float()[hard], target[hard])
        return rows, logits.detach().float(), value

    def write_history(self) -> Path | None:
        """Append the rows recorded since the last write to ``<log_dir>/gaal_gradients.csv`` (rank 0 only)."""
        if self.log_dir is None or rank_and_world()[0] != 0:
            return None
        path = self.log_dir / HISTORY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.is_file()
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS, restval="")
            if new:
                writer.writeheader()
            writer.writerows(self.records()[self._written:])
        self._written = len(self.history)
        return path

    def plot(self) -> Path | None:
        """Write the history and draw ``<log_dir>/gaal_gradients.png`` from the whole CSV."""
        path = self.write_history()
        return None if path is None else plot_gradient_history(path, self.log_dir / PLOT_FILE)


def plot_gradient_history(csv_path: str | Path, png_path: str | Path, *, window: int = 20) -> Path:
    """Plot the cosine between each modality's psi-gradient and the previous modality's gradients over training.

    Args:
        csv_path: a ``gaal_gradients.csv`` written by :class:`GAALStep`.
        png_path: the image to write.
        window: moving-average window (steps) drawn over the raw values.

    Example:
        >>> plot_gradient_history("runs/fold0/gaal_gradients.csv", "runs/fold0/gaal_gradients.png")  # doctest: +SKIP
    """
    import pandas as pd

    frame = pd.read_csv(csv_path)
    frame = frame[frame["skipped"] == 0]
    figure = agg_figure(figsize=(11, 4))
    axes = figure.subplots(1, 2, sharey=True)
    for axis, column, title in ((axes[0], "cos_hard", "vs previous modality's hard-sample gradient g_p"),
                                (axes[1], "cos_previous", "vs previous modality's full-batch gradient")):
        for modality, part in frame.groupby("modality", sort=False):
            values = pd.to_numeric(part[column], errors="coerce")
            line = axis.plot(part["iteration"], values, alpha=0.25, linewidth=0.8)[0]
            axis.plot(part["iteration"], values.rolling(window, min_periods=1).mean(), color=line.get_color(),
                      label=f"{modality} step")
        axis.axhline(0.0, color="grey", linewidth=0.8)
        axis.set_title(f"cosine on psi, {title}", fontsize=9)
        axis.set_xlabel("iteration")
        axis.legend(fontsize=8)
    axes[0].set_ylabel("cosine similarity (before surgery)")
    figure.tight_layout()
    png_path = Path(png_path)
    figure.savefig(png_path, dpi=100)
    return png_path
