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
"""Helpers of the bundle tests: tiny overrides, running a bundle in-process, reading an error's cause chain."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

__all__ = ["REPO", "BUNDLE", "RUN_FILES", "tiny", "run", "error_messages", "free_port", "read_json",
           "network_state", "torchrun_bundle", "RANK_STATES_CONFIG",
           "rank0_run_dir", "spawn_gloo"]

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "image_table_baseline"
RUN_FILES = ("model.pt", "last.pt", "schema.json", "network.json", "preprocessing.json", "split.json", "summary.json")


def tiny(root: Path, *, spatial_dims: int = 2, epochs: int = 2, **extra: Any) -> dict[str, Any]:
    """Overrides for a seconds-long run: 40 subjects of 16^d pixels and a ResNet-10 of 1/8 width."""
    size = [16] * spatial_dims
    return {"bundle_root": str(root), "epochs": epochs, "batch_size": 8,
            "synthetic": {"n_subjects": 40, "spatial_dims": spatial_dims, "image_size": size, "seed": 0},
            "image_encoder_args": {"width_factor": 0.125}, **extra}


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """The bundle's logging.conf replaces the root logger's handlers; put them back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)


def run(configs: list[str], overrides: Mapping[str, Any], *, bundle: Path | str = BUNDLE) -> None:
    """``run_bundle`` on a bundle (default: the baseline) with one torch thread, keeping the test session's logging."""
    from monai_tabular.engines import run_bundle

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with _root_logging_kept():
            run_bundle(bundle, configs, overrides)
    finally:
        torch.set_num_threads(threads)


def error_messages(exc: BaseException) -> list[str]:
    """The messages of ``exc`` and of every exception it was raised from (``__cause__``, else ``__context__``)."""
    messages, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        messages.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return messages


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def network_state(path: Path, key: str = "network") -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)[key]


# a test-only config added after multi_gpu_train.json: every rank saves its final weights to rank<N>.state
RANK_STATES_CONFIG = {
    "finalize": [
        "$torch.save(@network_def.state_dict(), os.path.join(@run_dir, 'rank' + str(@rank) + '.state'))",
        "$monai_tabular.handlers.write_run_summary(@run_dir, @validate#evaluator) if @is_main else None",
        "$dist.barrier()",
        "$dist.is_initialized() and dist.destroy_process_group()",
    ]
}


def torchrun_bundle(bundle: Path | str, configs: list[str], overrides: Mapping[str, Any], *, nproc: int = 2,
                    timeout: int = 300):
    """``torchrun --nproc_per_node nproc -m monai.bundle run`` on CPU (gloo); returns the finished process."""
    import os
    import shutil
    import subprocess
    import sys

    found = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    launcher = [found] if found else [sys.executable, "-m", "torch.distributed.run"]
    files = "[" + ",".join(repr(str(c) if Path(c).is_absolute() else f"configs/{c}") for c in configs) + "]"
    command = [*launcher, "--nproc_per_node", str(nproc), "--master_port", str(free_port()), "-m", "monai.bundle",
               "run", "--config_file", files, "--meta_file", "configs/metadata.json", "--logging_file",
               "configs/logging.conf"]
    for key, value in overrides.items():
        # monai.bundle reads True/False (not JSON's true/false) as booleans
        text = value if isinstance(value, str) else str(value) if isinstance(value, bool) else json.dumps(value)
        command += [f"--{key}", text]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(command, cwd=str(bundle), env=env, capture_output=True, text=True, timeout=timeout)


def rank0_run_dir(result, root: Path) -> Path:
    """Check a finished ``torchrun_bundle`` run: exit 0, one ``last.pt`` and one best ``model.pt`` written by rank 0
    only, no half-written checkpoint; returns fold 0's run folder."""
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    run_dir = Path(root) / "runs" / "fold0"
    checkpoints = sorted(p.name for p in run_dir.glob("*.pt"))
    assert checkpoints == ["last.pt", "model.pt"], checkpoints
    assert not list(run_dir.glob("*.partial"))
    return run_dir


def spawn_gloo(worker, out: Path, *, world: int = 2) -> list[Any]:
    """Run ``worker(rank, port, out)`` on ``world`` spawned processes (each joins a gloo group on ``port`` and
    saves its results to ``out/rank<N>.pt``); returns those results in rank order."""
    import torch.multiprocessing as mp

    mp.spawn(worker, args=(free_port(), str(out)), nprocs=world, join=True)
    return [torch.load(Path(out) / f"rank{rank}.pt", weights_only=True) for rank in range(world)]
