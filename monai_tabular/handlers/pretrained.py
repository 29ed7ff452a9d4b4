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
"""Start a network from another run's weights: every parameter whose name and shape match is loaded."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events

from monai_tabular.handlers.checkpoint import CheckpointLoadError, read_state_dict

__all__ = ["load_matching_weights", "PretrainedWeightsLoader"]

logger = logging.getLogger(__name__)


def load_matching_weights(network: torch.nn.Module, path: str | Path, *, key: str = "network") -> dict[str, list[str]]:
    """Load the parameters of ``path`` whose names and shapes match ``network``; return what loaded and what not.

    For fine-tuning on a cohort whose table has other columns: the image encoder and any layer of the same shape
    load, the table input layers and heads whose shapes differ start fresh. Returns ``{"loaded": [...],
    "new": [...] (in the network, not loadable), "unused": [...] (in the checkpoint only)}``.

    Example:
        >>> report = load_matching_weights(net, "runs/fold0/model.pt")   # doctest: +SKIP
        >>> len(report["loaded"]), report["new"][:3]                      # doctest: +SKIP
    """
    state = read_state_dict(path, key=key)
    own = network.state_dict()
    matched = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    network.load_state_dict(matched, strict=False)
    report = {"loaded": sorted(matched), "new": sorted(set(own) - set(matched)),
              "unused": sorted(set(state) - set(matched))}
    logger.info("loaded %d tensors from %s; %d new (trained from scratch): %s", len(report["loaded"]), path,
                len(report["new"]), ", ".join(report["new"][:20]))
    return report


class PretrainedWeightsLoader:
    """Ignite handler: :func:`load_matching_weights` when training starts from epoch 0 (not on a resume).

    Example:
        >>> PretrainedWeightsLoader("runs/other/fold0/model.pt", network=net).attach(trainer)   # doctest: +SKIP
    """

    def __init__(self, load_path: str | Path | None, network: torch.nn.Module) -> None:
        self.load_path = None if load_path in (None, "") else Path(load_path)
        self.network = network
        self.report: dict[str, list[str]] | None = None

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        if self.load_path is not None and engine.state.epoch == 0:
            self.report = load_matching_weights(self.network, self.load_path)
