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
"""Checkpoint loading that is safe (``weights_only=True``) and says clearly what is wrong with a bad file."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events

__all__ = ["read_state_dict", "load_checkpoint", "CheckpointLoadError", "SafeCheckpointLoader"]


class CheckpointLoadError(RuntimeError):
    """A checkpoint that cannot be loaded safely or does not fit the objects it is loaded into."""


def read_state_dict(path: str | Path, *, key: str = "network", hint: str = "") -> dict[str, Any]:
    """The state dict stored under ``key`` in a checkpoint file (or the file's bare state dict), read safely.

    ``torch.load(..., weights_only=True)``; a missing file (with ``hint`` appended), a file that needs pickled code
    and a file without a state dict are each a clear error naming the path.

    Example:
        >>> state = read_state_dict("runs/fold0/model.pt")   # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained checkpoint {path} does not exist{': ' + hint if hint else ''}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged, tampered or foreign pickles all end here
        raise CheckpointLoadError(f"checkpoint {path} cannot be loaded safely (weights_only=True): "
                                  f"{type(exc).__name__}") from None
    state = checkpoint.get(key, checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CheckpointLoadError(f"checkpoint {path} holds no state dict under {key!r}")
    return state


def load_checkpoint(path: str | Path, objects: Mapping[str, Any], *, strict: bool = True,
                    map_location: Any = "cpu") -> dict[str, Any]:
    """Load ``{name: state_dict}`` from ``path`` into ``objects`` (modules, optimisers, engines).

    Loaded with ``torch.load(..., weights_only=True)``: a file that needs arbitrary pickled code (tampered, or
    not a state-dict checkpoint) is refused. A checkpoint of another network names the missing/unexpected keys.
    A file holding a bare ``state_dict`` is accepted when ``objects`` has a single entry.

    Example:
        >>> load_checkpoint("runs/model.pt", {"network": net})   # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointLoadError(f"checkpoint {path} cannot be loaded safely (weights_only=True): it is damaged, "
                                  f"tampered with, or not a PyTorch state-dict checkpoint. {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(checkpoint, Mapping):
        raise CheckpointLoadError(f"checkpoint {path} holds a {type(checkpoint).__name__}, not a dict of states")
    if len(objects) == 1 and next(iter(objects)) not in checkpoint:
        checkpoint = {next(iter(objects)): checkpoint}
    missing = [name for name in objects if name not in checkpoint]
    if missing:
        raise CheckpointLoadError(f"checkpoint {path} has no entry for {missing}; it holds {sorted(checkpoint)}")
    for name, obj in objects.items():
        try:
            if isinstance(obj, torch.nn.Module):
                obj.load_state_dict(checkpoint[name], strict=strict)
            elif isinstance(obj, Engine):
                # the configured run length and epoch length win over the saved ones: a run resumed on another
                # number of processes has epochs of another number of iterations
                max_epochs, epoch_length = obj.state.max_epochs, obj.state.epoch_length
                obj.load_state_dict(checkpoint[name])
                if max_epochs is not None:
                    if obj.state.epoch > max_epochs:
                        raise ValueError(f"checkpoint epoch {obj.state.epoch} > max_epochs {max_epochs}")
                    obj.state.max_epochs = max_epochs
                if epoch_length is not None and epoch_length != obj.state.epoch_length:
                    obj.state.epoch_length = epoch_length
                    obj.state.iteration = obj.state.epoch * epoch_length
            else:
                obj.load_state_dict(checkpoint[name])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise CheckpointLoadError(f"checkpoint {path} does not fit {name!r} ({type(obj).__name__}): it was "
                                      f"saved from another model or configuration. {exc}") from None
    return dict(checkpoint)


class SafeCheckpointLoader:
    """Ignite handler: :func:`load_checkpoint` when the engine starts (e.g. to resume or to evaluate).

    Args:
        load_path: checkpoint file; ``None`` or a missing file with ``optional=True`` does nothing (fresh run).
        load_dict: name -> object to restore.
        strict: strict module state loading.
        optional: allow a missing file (resume-if-present).

    Example:
        >>> SafeCheckpointLoader(load_path="runs/checkpoint.pt", load_dict={"network": net},
        ...                      optional=True).attach(trainer)   # doctest: +SKIP
    """

    def __init__(self, load_path: str | Path | None, load_dict: Mapping[str, Any], *, strict: bool = True,
                 optional: bool = False, map_location: Any = "cpu") -> None:
        self.load_path = None if load_path in (None, "") else Path(load_path)
        self.load_dict = dict(load_dict)
        self.strict, self.optional, self.map_location = strict, optional, map_location

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        if self.load_path is None or (self.optional and not self.load_path.is_file()):
            return
        load_checkpoint(self.load_path, self.load_dict, strict=self.strict, map_location=self.map_location)
