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
"""Speed of the chunked selective scan and of the nnMamba encoder.

    python benchmarks/selective_scan.py              # CPU: scan at L=4096, encoders at 1x120x120x90
    python benchmarks/selective_scan.py --quick      # fewer rounds, encoders at 1x60x60x45

1. ``selective_scan`` (chunked, parallel) vs ``selective_scan_ref`` (sequential loop) at sequence length 4096,
   d_inner 64, d_state 16, batch 2, float32, with D, z, delta_bias and softplus as inside Mamba: forward without
   autograd (inference), forward recording autograd (training), forward+backward; interleaved rounds, ratio
   of the medians (goal >= 10x).
2. On CUDA: the same, plus the ``mamba_ssm`` kernel when it is installed (ratio to the kernel).
3. Forward+backward (train mode) of the nnMamba encoder vs a 3D ResNet-18 encoder at batch 2.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable

import torch

from monai_tabular.networks import create_encoder

ss = importlib.import_module("monai_tabular.networks.blocks.selective_scan")
importlib.import_module("monai_tabular.networks.encoders.nnmamba")  # registers "nnmamba"


def scan_inputs(length: int, dim: int, state: int, batch: int, device: str) -> dict:
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g).to(device)

    return {"u": r(batch, dim, length), "delta": r(batch, dim, length), "A": -torch.exp(r(dim, state)),
            "B": r(batch, state, length), "C": r(batch, state, length), "D": r(dim), "z": r(batch, dim, length),
            "delta_bias": r(dim), "delta_softplus": True}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, device: str = "cpu") -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved rounds after one warm-up call each."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def _forward(fn, inputs) -> Callable[[], object]:
    def run():
        with torch.no_grad():
            return fn(**inputs)
    return run


def _leaves(inputs) -> dict:
    return {k: v.clone().requires_grad_() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def _forward_training(fn, inputs) -> Callable[[], object]:
    leaves = _leaves(inputs)

    def run():  # forward with autograd recording, as in a training step
        return fn(**leaves).sum().item()
    return run


def _forward_backward(fn, inputs) -> Callable[[], object]:
    leaves = _leaves(inputs)

    def run():
        for v in leaves.values():
            if isinstance(v, torch.Tensor):
                v.grad = None
        y = fn(**leaves)
        y.backward(torch.ones_like(y))
    return run


def bench_scan(args, device: str) -> None:
    inputs = scan_inputs(args.length, args.d_inner, args.d_state, args.batch, device)
    fns = {"parallel": lambda **kw: ss.selective_scan(**kw, backend="torch", chunk_size=args.chunk_size),
           "sequential": ss.selective_scan_ref}
    if device == "cuda" and ss.mamba_ssm_available():
        fns["mamba_ssm"] = lambda **kw: ss.selective_scan(**kw, backend="mamba_ssm")
    with torch.no_grad():
        ref = ss.selective_scan_ref(**inputs)
        err = (ss.selective_scan(**inputs, backend="torch") - ref).abs().max().item()
    chunk = args.chunk_size or ss.default_chunk_size(args.length)
    print(f"selective scan on {device}: L={args.length} d_inner={args.d_inner} d_state={args.d_state} "
          f"batch={args.batch} float32, chunk {chunk}; max |parallel - sequential| = {err:.2e}")
    for label, wrap in (("forward (no grad)", _forward), ("forward (autograd)", _forward_training),
                        ("forward+backward", _forward_backward)):
        times = interleaved({k: wrap(fn, inputs) for k, fn in fns.items()}, args.rounds, device)
        line = "  ".join(f"{k} {v * 1e3:9.1f} ms" for k, v in times.items())
        ratio = times["sequential"] / times["parallel"]
        extra = f", parallel / mamba_ssm {times['parallel'] / times['mamba_ssm']:.1f}x" if "mamba_ssm" in times else ""
        print(f"  {label:18s} {line}  -> sequential / parallel {ratio:.1f}x{extra} (goal >= 10x)")


def bench_encoders(args, device: str) -> None:
    x = torch.randn(args.batch, 1, *args.size, generator=torch.Generator().manual_seed(0)).to(device)
    encoders = {}
    for name in ("nnmamba", "resnet18"):
        torch.manual_seed(0)
        encoders[name] = create_encoder(name, spatial_dims=3, in_channels=1).to(device).train()
    params = {k: sum(p.numel() for p in e.parameters()) / 1e6 for k, e in encoders.items()}

    def step(enc):
        def run():
            enc.zero_grad(set_to_none=True)
            enc(x).sum().backward()
        return run

    times = interleaved({k: step(e) for k, e in encoders.items()}, args.encoder_rounds, device)
    size = "x".join(str(s) for s in args.size)
    print(f"encoders on {device}, forward+backward, batch {args.batch} x 1x{size}:")
    for name, t in times.items():
        print(f"  {name:9s} {t * 1e3:9.0f} ms  ({params[name]:.2f} M parameters)")
    print(f"  nnmamba / resnet18 time: {times['nnmamba'] / times['resnet18']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, encoders at 60x60x45")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--length", type=int, default=4096)
    parser.add_argument("--d-inner", type=int, default=64)
    parser.add_argument("--d-state", type=int, default=16)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--size", type=int, nargs=3, default=None, help="encoder input size (default 120 120 90)")
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--skip-encoders", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.rounds = args.rounds or (3 if args.quick else 7)
    args.encoder_rounds = 2 if args.quick else 3
    args.size = args.size or ([60, 60, 45] if args.quick else [120, 120, 90])
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} CPU thread(s), "
          f"mamba_ssm {'installed' if ss.mamba_ssm_available() else 'not installed'}")
    if not args.skip_scan:
        bench_scan(args, args.device)
        if args.device == "cuda":
            bench_scan(args, "cpu")
    if not args.skip_encoders:
        bench_encoders(args, args.device)


if __name__ == "__main__":
    main()
