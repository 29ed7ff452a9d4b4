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
"""Determinism per epoch, so that a resumed run ends exactly where an uninterrupted one does."""

from __future__ import annotations

from ignite.engine import Engine, Events
from monai.utils import set_determinism

__all__ = ["EpochSeedHandler"]


class EpochSeedHandler:
    """At each epoch start, seed python/numpy/torch and the dataset's random transforms with ``seed + epoch``.

    The randomness of an epoch then depends only on (seed, epoch), not on what ran before, so a run resumed from
    a checkpoint repeats the uninterrupted run. Use it with a ``DistributedSampler`` (or ``shuffle=False``),
    whose order MONAI's workflow also sets per epoch; ``DataLoader(shuffle=True)`` draws its order before the
    epoch starts.

    Args:
        seed: base seed.

    Example:
        >>> EpochSeedHandler(seed=0).attach(trainer)   # doctest: +SKIP
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        seed = self.seed + int(engine.state.epoch)
        set_determinism(seed=seed)
        loader = getattr(engine, "data_loader", None)
        transform = getattr(getattr(loader, "dataset", None), "transform", None)
        if hasattr(transform, "set_random_state"):
            transform.set_random_state(seed=seed)
