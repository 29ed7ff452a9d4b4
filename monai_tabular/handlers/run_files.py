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
"""Run-folder checkpoints: ``last.pt`` after every epoch (to resume a stopped run) and metrics as JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events

from monai_tabular.handlers.checkpoint import load_checkpoint

__all__ = ["ResumableCheckpoint", "MetricsJSONWriter", "StopAfterEpoch", "write_run_summary"]


class ResumableCheckpoint:
    """Save ``{name: state_dict}`` to ``<run_dir>/last.pt`` after each epoch; resume from it when the run starts.

    The file is written to a temporary name and renamed, so a run killed mid-save never leaves a broken
    checkpoint. The validator's best metric and epoch are saved too, so best-model selection continues where it
    stopped.

    Args:
        run_dir: folder of the run.
        save_dict: objects to save/restore (network, optimizer, trainer, lr scheduler ...).
        validator: evaluator whose ``best_metric`` / ``best_metric_epoch`` are kept across a resume.
        resume: load ``last.pt`` at start when it exists.
        filename: checkpoint file name.
        save: write checkpoints (``False`` on all but rank 0 of a distributed run; every rank still resumes).
        engine_key: the engine it is attached to is saved under this name (its epoch/iteration), so configs need
            not reference the trainer from its own handler list.

    Example:
        >>> ResumableCheckpoint("runs/fold0", {"network": net, "optimizer": opt, "trainer": trainer}).attach(trainer)  # doctest: +SKIP
    """

    def __init__(self, run_dir: str | Path, save_dict: Mapping[str, Any], *, validator: Engine | None = None,
                 resume: bool = True, filename: str = "last.pt", engine_key: str | None = "trainer",
                 save: bool = True) -> None:
        self.path = Path(run_dir) / filename
        self.save_dict = dict(save_dict)
        self.engine_key = engine_key
        self.save_enabled = save
        self.validator, self.resume = validator, resume

    def attach(self, engine: Engine) -> None:
        if self.engine_key is not None:
            self.save_dict.setdefault(self.engine_key, engine)
        engine.add_event_handler(Events.STARTED, self.load)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.save)

    def load(self, engine: Engine) -> None:
        if not (self.resume and self.path.is_file()):
            return
        checkpoint = load_checkpoint(self.path, self.save_dict)
        best = checkpoint.get("validator_best")
        if self.validator is not None and best:
            self.validator.state.best_metric = best["best_metric"]
            self.validator.state.best_metric_epoch = int(best["best_metric_epoch"])
        engine.logger.info(f"resumed from {self.path} at epoch {engine.state.epoch}")

    def save(self, engine: Engine) -> None:
        if not self.save_enabled:
            return
        state = {name: obj.state_dict() for name, obj in self.save_dict.items()}
        if self.validator is not None:
            state["validator_best"] = {"best_metric": float(self.validator.state.best_metric),
                                       "best_metric_epoch": int(self.validator.state.best_metric_epoch)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, self.path)


class MetricsJSONWriter:
    """Write ``engine.state.metrics`` (numbers only) to a JSON file when the engine completes.

    Example:
        >>> MetricsJSONWriter("runs/fold0/metrics_both.json").attach(evaluator)   # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, extra: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.extra = dict(extra or {})

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        metrics = {k: float(v) for k, v in engine.state.metrics.items() if isinstance(v, (int, float))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({**self.extra, "metrics": metrics}, indent=2) + "\n")


def write_run_summary(run_dir: str | Path, evaluator: Engine, *, filename: str = "summary.json") -> Path:
    """Write the validator's best key metric, its epoch and the last epoch's metrics to ``run_dir``."""
    path = Path(run_dir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    state = evaluator.state
    metrics = {k: float(v) for k, v in (state.metrics or {}).items() if isinstance(v, (int, float))}
    summary = {"best_metric": float(state.best_metric), "best_metric_epoch": int(state.best_metric_epoch),
               "key_metric": getattr(state, "key_metric_name", None), "last_metrics": metrics}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


class StopAfterEpoch:
    """End the run cleanly after ``epoch`` (a time-boxed run that a later run resumes from ``last.pt``).

    ``None`` disables it. Also how the tests stop a run half-way to check that resuming gives the same result.

    Example:
        >>> StopAfterEpoch(2).attach(trainer)   # doctest: +SKIP
    """

    def __init__(self, epoch: int | None = None) -> None:
        self.epoch = None if epoch in (None, "", 0) else int(epoch)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        if self.epoch is not None and engine.state.epoch >= self.epoch and engine.state.epoch < engine.state.max_epochs:
            engine.logger.info(f"stopping after epoch {engine.state.epoch} (stop_after_epoch); resume to finish")
            engine.terminate()
