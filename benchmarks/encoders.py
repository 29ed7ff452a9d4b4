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
"""Forward+backward time and peak memory of every registered encoder on CPU (one subprocess per encoder).

    python benchmarks/encoders.py                 # 3D 1x120x120x90 batch 2, 2D 3x224x224 batch 8, tables batch 256
    python benchmarks/encoders.py --quick         # small sizes, to check the script
    python benchmarks/encoders.py --only resnet18 swin_t

Sizes an encoder cannot take (Swin needs multiples of patch*8) are padded up to the nearest valid size and the
size used is printed. Peak memory is the subprocess's maximum RSS, including the Python/torch runtime (~0.5 GB).
The selective-scan speed ratio (parallel / sequential reference at length 4096) comes last, from
``benchmarks/selective_scan.py`` (also the ratio to the ``mamba-ssm`` kernels when CUDA and mamba_ssm are there).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, time, torch
from monai_tabular.networks import create_encoder, get_encoder_kind
name, spatial_dims, size, batch, repeats = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.manual_seed(0)
if get_encoder_kind(name) == "image":
    channels = 1 if spatial_dims == 3 else 3
    encoder = create_encoder(name, spatial_dims=spatial_dims, in_channels=channels)
    multiple = list(getattr(encoder, "size_multiple", [1] * spatial_dims))
    size = [-(-s // k) * k for s, k in zip(size, multiple)]
    inputs = (torch.randn(batch, channels, *size),)
    kwargs = {}
else:
    n_num, cards = 20, [3, 4, 5, 6, 3, 4, 5, 6, 3, 4]
    extra = {"header_embeddings": torch.randn(n_num + len(cards), 384).tolist()} if name == "sat" else {}
    encoder = create_encoder(name, n_numerical=n_num, cardinalities=cards, **extra)
    inputs = ()
    kwargs = {"numerical": torch.randn(batch, n_num), "numerical_mask": torch.ones(batch, n_num),
              "categorical": torch.ones(batch, len(cards), dtype=torch.long), "categorical_mask": torch.ones(batch, len(cards))}
    size = [n_num + len(cards)]
encoder.train()
times = []
for i in range(repeats + 1):
    start = time.perf_counter()
    encoder(*inputs, **kwargs).square().mean().backward()
    encoder.zero_grad(set_to_none=True)
    if i:
        times.append(time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"name": name, "size": size, "batch": batch, "seconds": statistics.median(times),
                  "peak_rss_mib": peak, "params_m": sum(p.numel() for p in encoder.parameters()) / 1e6}))
"""


def run(name: str, spatial_dims: int, size: list[int], batch: int, repeats: int, timeout: int) -> dict | None:
    command = [sys.executable, "-c", CHILD, name, str(spatial_dims), json.dumps(size), str(batch), str(repeats)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"name": name, "error": f"over {timeout} s"}
    if out.returncode != 0:
        return {"name": name, "error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from monai_tabular.networks import list_encoders

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--skip-scan", action="store_true", help="do not run the selective-scan ratio")
    args = parser.parse_args()
    size3, size2 = ([32, 32, 32], [64, 64]) if args.quick else ([120, 120, 90], [224, 224])
    cases = [(n, 3, size3, 2) for n in list_encoders("image")] + [(n, 2, size2, 8) for n in list_encoders("image")]
    cases += [(n, 0, [], 256) for n in list_encoders("table")]
    print(f"{'encoder':<16} {'input':<22} {'batch':>5} {'fwd+bwd s':>10} {'peak RSS MiB':>13} {'params M':>9}")
    for name, dims, size, batch in cases:
        if args.only and name not in args.only:
            continue
        result = run(name, dims, size, batch, args.repeats, args.timeout)
        shape = ("table " if dims == 0 else f"{dims}D ") + "x".join(map(str, result.get("size", size)))
        if "error" in result:
            print(f"{name:<16} {shape:<22} {batch:>5} failed: {result['error']}", flush=True)
            continue
        print(f"{name:<16} {shape:<22} {batch:>5} {result['seconds']:>10.3f} {result['peak_rss_mib']:>13.0f} "
              f"{result['params_m']:>9.2f}", flush=True)
    if not args.skip_scan:
        from pathlib import Path

        script = Path(__file__).resolve().parent / "selective_scan.py"
        extra = ["--quick"] if args.quick else []
        subprocess.run([sys.executable, str(script), "--skip-encoders", *extra], check=False)


if __name__ == "__main__":
    main()
