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
"""The performance page (``docs/performance.md``): the baseline's ratios and every method benchmark, run in one go
so that the ratios are comparable.

    python benchmarks/performance.py --quick                    # CPU, small sizes, baseline only (~1 min)
    python benchmarks/performance.py --quick --methods all      # + every method script at small sizes (~5 min)
    python benchmarks/performance.py                            # IXI-sized 3D inputs (60x60x45), every method
    python benchmarks/performance.py --methods charms gaal      # only these method benchmarks ('none': skip them)

Baseline (fusion = ResNet-10 x0.25 + MLP, concatenation; image-only = the same ResNet-10 and a linear head):

1. training step (forward, backward, AdamW) of the fusion model / of the image-only model, same batch;
2. inference (forward, no gradient) of the fusion model / of the image-only model;
3. a ``TabularTrainer`` step / a bare PyTorch step (``benchmarks/trainer_overhead.py``);
4. loader time / step time with cached 3D data (``benchmarks/trainer_overhead.py``);
5. peak memory of a training step (CPU: resident memory of a fresh process; CUDA: ``max_memory_allocated``);
6. with CUDA: the ratios of 1-2 on the GPU and the GPU utilisation while training from a MONAI data loader
   (``torch.cuda.utilization``, else ``nvidia-smi``), sampled every 50 ms.

Steps of the compared models alternate and medians are taken, so load from other processes hits both alike.
Method benchmarks are the scripts in ``METHOD_BENCHMARKS``, each run as a subprocess (with ``--json`` when the
script defines that option, the last JSON line then read as its figures; else its printed lines are kept as they
are).
Add a method by adding a row.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from trainer_overhead import loader_ratio, make_batches, network, overhead, peak_memory  # noqa: E402

from monai_tabular.losses import TaskLoss  # noqa: E402
from monai_tabular.networks import create_classifier  # noqa: E402


@dataclass
class MethodBenchmark:
    """One method benchmark script: its name on the page, file, and arguments for quick / full / CUDA runs."""

    name: str
    script: str
    quick_args: list[str] = field(default_factory=list)
    full_args: list[str] = field(default_factory=list)
    cuda_args: list[str] = field(default_factory=list)


METHOD_BENCHMARKS = [
    MethodBenchmark("CFCML", "cfcml.py", quick_args=["--skip-3d-full", "--repeats", "2", "--threads", "1"]),
    MethodBenchmark("CHARMS", "charms.py",
                    quick_args=["--spatial-dims", "2", "--size", "32", "--steps", "3", "--align-samples", "32"]),
    MethodBenchmark("GAAL", "gaal.py", quick_args=["--quick", "--rounds", "2", "--steps", "2"],
                    cuda_args=["--device", "cuda"]),
    MethodBenchmark("CITab", "citab.py",
                    quick_args=["--encoder", "resnet10", "--width", "0.125", "--fusion-dim", "64", "--fusion-blocks",
                                "1", "--size", "16", "16", "16", "--repeats", "1", "--columns", "8", "--table-dim",
                                "32", "--batch", "2"]),
    MethodBenchmark("MT-CMTM", "mtcmtm.py", quick_args=["--size", "32", "32", "32", "--repeats", "3"]),
    MethodBenchmark("Fusion modules", "fusion_speed.py", quick_args=["--size", "16", "--steps", "3"]),
]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(net: torch.nn.Module, batches: list[dict], device: torch.device, *, train: bool) -> list[float]:
    """Seconds per step: a training step (AdamW) or an inference forward pass, synchronised on CUDA."""
    loss = TaskLoss()
    optimizer = getattr(net, "_benchmark_optimizer", None)
    if optimizer is None:
        optimizer = net._benchmark_optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    net.train(train)
    times = []
    for batch in batches:
        synchronize(device)
        start = time.perf_counter()
        if train:
            optimizer.zero_grad(set_to_none=True)
            loss(net(batch), batch)["task"].backward()
            optimizer.step()
        else:
            with torch.no_grad():
                net(batch)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def fusion_vs_image(size: tuple[int, ...], *, batch: int, steps: int, rounds: int, device: torch.device) -> dict:
    """Training-step and inference ratios of the fusion baseline to the image-only baseline (same backbone)."""
    fusion = network(size).to(device)
    torch.manual_seed(0)
    image = create_classifier(model="image", spatial_dims=len(size), in_channels=1, n_numerical=4,
                              cardinalities=[3, 4], out_channels=2, image_encoder="resnet10",
                              image_encoder_args={"width_factor": 0.25}).to(device)
    batches = [{k: v.to(device) for k, v in b.items()} for b in make_batches(steps, batch, size)]
    times: dict[str, list[float]] = {"train_fusion": [], "train_image": [], "infer_fusion": [], "infer_image": []}
    for net in (fusion, image):  # warm-up (cuDNN autotuning, allocator)
        timed_steps(net, batches[:2], device, train=True)
        timed_steps(net, batches[:2], device, train=False)
    for _ in range(rounds):
        times["train_fusion"] += timed_steps(fusion, batches, device, train=True)
        times["train_image"] += timed_steps(image, batches, device, train=True)
        times["infer_fusion"] += timed_steps(fusion, batches, device, train=False)
        times["infer_image"] += timed_steps(image, batches, device, train=False)
    median = {k: statistics.median(v) for k, v in times.items()}
    return {**{f"{k}_s": v for k, v in median.items()},
            "train_ratio": median["train_fusion"] / median["train_image"],
            "infer_ratio": median["infer_fusion"] / median["infer_image"]}


def gpu_utilisation_reader(device: torch.device):
    """A function returning the GPU's utilisation in percent (``torch.cuda.utilization``, else ``nvidia-smi``)."""
    try:
        torch.cuda.utilization(device)
        return lambda: float(torch.cuda.utilization(device))
    except Exception:  # torch.cuda.utilization needs pynvml / amdsmi
        index = device.index or 0

        def query() -> float:
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                  "-i", str(index)], capture_output=True, text=True, check=True, timeout=10)
            return float(out.stdout.strip().splitlines()[0])

        query()
        return query


def gpu_training_figures(size: tuple[int, ...], *, batch: int, n_subjects: int, epochs: int,
                         num_workers: int, device: torch.device) -> dict:
    """Peak GPU memory of a fusion training step, and the GPU utilisation while training from a MONAI loader."""
    import tempfile

    from monai.data import CacheDataset, DataLoader
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, NormalizeIntensityd, RandFlipd

    from monai_tabular.data import TableSchema, build_datalist
    from monai_tabular.data.synthetic import make_synthetic_cohort
    from monai_tabular.engines import to_device
    from monai_tabular.transforms import EncodeLabeld, EncodeTabled

    net = network(size).to(device)
    batches = [{k: v.to(device) for k, v in b.items()} for b in make_batches(2, batch, size)]
    timed_steps(net, batches[:1], device, train=True)
    torch.cuda.reset_peak_memory_stats(device)
    timed_steps(net, batches[1:], device, train=True)
    peak = torch.cuda.max_memory_allocated(device) / 2**20

    cohort = make_synthetic_cohort(Path(tempfile.mkdtemp()) / "cohort", n_subjects=n_subjects, spatial_dims=3,
                                   image_size=size, seed=0)
    schema = TableSchema.from_table(cohort.csv_path, cohort.spec).fit(cohort.csv_path)
    records = build_datalist(cohort.csv_path, schema)
    pipeline = Compose([LoadImaged("image", image_only=True), EnsureChannelFirstd("image"),
                        NormalizeIntensityd("image"), EncodeTabled(schema=schema), EncodeLabeld(schema=schema),
                        RandFlipd("image", prob=0.5, spatial_axis=0)])
    loader = DataLoader(CacheDataset(records, pipeline, progress=False), batch_size=batch, shuffle=True,
                        num_workers=num_workers, drop_last=True)
    net = create_classifier(model="fusion", spatial_dims=3, in_channels=1, n_numerical=len(schema.numerical),
                            cardinalities=schema.cardinalities, out_channels=2, image_encoder="resnet10",
                            image_encoder_args={"width_factor": 0.25}).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    loss = TaskLoss()
    read = gpu_utilisation_reader(device)
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(read())
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    n_steps = 0
    start = time.perf_counter()
    sampler.start()
    try:
        for _ in range(epochs):
            for batch_data in loader:
                batch_data = to_device(batch_data, device, non_blocking=True)
                optimizer.zero_grad(set_to_none=True)
                loss(net(batch_data), batch_data)["task"].backward()
                optimizer.step()
                n_steps += 1
        synchronize(device)
    finally:
        stop.set()
        sampler.join()
    elapsed = time.perf_counter() - start
    return {"peak_allocated_mib": peak, "utilisation_mean": statistics.mean(samples) if samples else float("nan"),
            "utilisation_median": statistics.median(samples) if samples else float("nan"),
            "utilisation_samples": len(samples), "train_steps": n_steps, "steps_per_s": n_steps / elapsed,
            "num_workers": num_workers}


def run_method(entry: MethodBenchmark, *, quick: bool, cuda: bool, timeout: int) -> dict:
    """Run one method benchmark script; its figures (``--json``) or printed lines, and how it ended."""
    script = HERE / entry.script
    args = list(entry.quick_args if quick else entry.full_args) + (entry.cuda_args if cuda else [])
    command = [sys.executable, str(script), *args]
    result: dict = {"name": entry.name, "command": f"python benchmarks/{entry.script} {' '.join(args)}".strip()}
    if not script.is_file():
        return {**result, "status": "no script yet"}
    try:
        if '"--json"' in script.read_text():
            command.append("--json")
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return {**result, "status": f"stopped after {timeout} s"}
    result["seconds"] = time.perf_counter() - start
    lines = [line.rstrip() for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0:
        return {**result, "status": f"exit {out.returncode}", "lines": lines[-5:] + out.stderr.splitlines()[-5:]}
    if "--json" in command:
        for line in reversed(lines):
            try:
                return {**result, "status": "ok", "figures": json.loads(line),
                        "lines": [x for x in lines if x != line]}
            except json.JSONDecodeError:
                continue
    return {**result, "status": "ok", "lines": [x for x in lines if not x.lstrip().startswith("{")]}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def write_page(path: Path, results: dict, command: str) -> Path:
    """``docs/performance.md`` from the measurements."""
    base, env = results["baseline"], results["environment"]
    size = "x".join(map(str, base["size"]))
    lines = ["# Performance", "",
             f"Measured in one run by `{command}` on {env['date']}: {env['cpu']}, {env['torch_threads']} torch "
             f"thread(s), torch {env['torch']}" + (f", GPU {env['gpu']}" if env.get("gpu") else ", no GPU") + ".",
             "Ratios compare models measured in the same run, steps alternating and medians taken, so they carry "
             "over between machines better than the times, which depend on the machine and its load.", "",
             "## Baseline", "",
             "Fusion = ResNet-10 (1/4 width) + MLP, concatenation head; image-only = the same ResNet-10 and a linear "
             f"head; 3D input {size}, batch {base['batch']}.", "",
             "| quantity | value | detail |", "|---|---|---|"]
    ratios = base["cpu"]
    lines.append(f"| training step, fusion / image-only (CPU) | {ratios['train_ratio']:.2f} | "
                 f"{_ms(ratios['train_fusion_s'])} / {_ms(ratios['train_image_s'])} |")
    lines.append(f"| inference, fusion / image-only (CPU) | {ratios['infer_ratio']:.2f} | "
                 f"{_ms(ratios['infer_fusion_s'])} / {_ms(ratios['infer_image_s'])} |")
    trainer = base["trainer_overhead"]
    lines.append(f"| `TabularTrainer` step / bare PyTorch step (CPU) | {trainer['ratio']:.3f} | "
                 f"{_ms(trainer['trainer_step_s'])} / {_ms(trainer['bare_step_s'])} (goal <= 1.05) |")
    loader = base["loader"]
    lines.append(f"| loader time / step time, cached 3D data (CPU) | {loader['ratio']:.3f} | "
                 f"{_ms(loader['load_s'])} / {_ms(loader['step_s'])}, ResNet-10 1/2 width |")
    peak = base["peak_memory"]
    lines.append(f"| peak resident memory of a training step (CPU) | {peak['peak_rss_mib']:.0f} MiB | 3D ResNet-18 "
                 f"(full width) fusion, batch 4, {'x'.join(map(str, base['peak_size']))}; "
                 f"{peak['before_step_mib']:.0f} MiB before the step |")
    if "cuda" in base:
        gpu, figures = base["cuda"], base["cuda_training"]
        lines += [f"| training step, fusion / image-only (GPU) | {gpu['train_ratio']:.2f} | "
                  f"{_ms(gpu['train_fusion_s'])} / {_ms(gpu['train_image_s'])} |",
                  f"| inference, fusion / image-only (GPU) | {gpu['infer_ratio']:.2f} | "
                  f"{_ms(gpu['infer_fusion_s'])} / {_ms(gpu['infer_image_s'])} |",
                  f"| peak GPU memory of a fusion training step | {figures['peak_allocated_mib']:.0f} MiB | "
                  f"`torch.cuda.max_memory_allocated`, batch {base['batch']} |",
                  f"| GPU utilisation while training from a MONAI loader | {figures['utilisation_mean']:.0f} % "
                  f"(median {figures['utilisation_median']:.0f} %) | {figures['utilisation_samples']} samples over "
                  f"{figures['train_steps']} steps ({figures['steps_per_s']:.1f} steps/s), CacheDataset, "
                  f"{figures['num_workers']} loader workers |"]
        if figures["utilisation_mean"] < 50:
            lines += ["", f"The GPU is mostly idle here: a training step of this small model takes "
                          f"{_ms(gpu['train_fusion_s'])} on the GPU, so the Python loop and the loader set the pace; "
                          "a larger batch, model or input raises the utilisation."]
    else:
        lines += ["", "No GPU in this run: the GPU rows (ratios on the GPU, peak GPU memory, GPU utilisation during "
                      "training) are written when CUDA is available."]
    lines += ["", "## Methods", "",
              "Each method's own benchmark script, run by this one; the lines are the script's output.", ""]
    for method in results["methods"]:
        lines += [f"### {method['name']}", "", f"`{method['command']}` — {method['status']}"
                  + (f" ({method['seconds']:.0f} s)" if "seconds" in method else ""), ""]
        if method.get("figures"):
            lines += ["```json", json.dumps(method["figures"], indent=2), "```", ""]
        if method.get("lines"):
            lines += ["```text", *method["lines"], "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CPU, a few minutes)")
    parser.add_argument("--methods", nargs="*", default=None,
                        help="method benchmarks to run: names of METHOD_BENCHMARKS (case-insensitive), 'all' or "
                             "'none' (default: none with --quick, else all)")
    parser.add_argument("--method-timeout", type=int, default=None, help="seconds per method script")
    parser.add_argument("--output", default=str(HERE.parent / "docs" / "performance.md"))
    parser.add_argument("--json", action="store_true", help="print every figure as one JSON line at the end")
    args = parser.parse_args()
    size = (32, 32, 32) if args.quick else (60, 60, 45)
    batch = 8
    cuda = torch.cuda.is_available()
    env = {"date": datetime.date.today().isoformat(), "cpu": platform.processor() or platform.machine(),
           "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
           "gpu": torch.cuda.get_device_name(0) if cuda else None}
    baseline: dict = {"size": list(size), "batch": batch}
    cpu = torch.device("cpu")
    baseline["cpu"] = fusion_vs_image(size, batch=batch, steps=3 if args.quick else 5,
                                      rounds=2 if args.quick else 4, device=cpu)
    print(f"training step fusion / image-only (CPU): {baseline['cpu']['train_ratio']:.2f}; "
          f"inference: {baseline['cpu']['infer_ratio']:.2f}", flush=True)
    baseline["trainer_overhead"] = overhead(size, batch=batch, rounds=2 if args.quick else 5,
                                            steps=3 if args.quick else 6)
    print(f"TabularTrainer / bare step: {baseline['trainer_overhead']['ratio']:.3f}", flush=True)
    baseline["loader"] = loader_ratio(size, batch=batch, n_subjects=24 if args.quick else 64)
    print(f"loader / step: {baseline['loader']['ratio']:.3f}", flush=True)
    baseline["peak_size"] = [32, 32, 32] if args.quick else [120, 120, 90]
    baseline["peak_memory"] = peak_memory(tuple(baseline["peak_size"]))
    print(f"peak RSS of a training step: {baseline['peak_memory']['peak_rss_mib']:.0f} MiB", flush=True)
    if cuda:
        gpu = torch.device("cuda", 0)
        torch.backends.cudnn.benchmark = True
        baseline["cuda"] = fusion_vs_image(size, batch=batch, steps=10, rounds=5, device=gpu)
        baseline["cuda_training"] = gpu_training_figures(size, batch=batch, n_subjects=64 if args.quick else 256,
                                                         epochs=3, num_workers=4, device=gpu)
        print(f"GPU: training fusion / image-only {baseline['cuda']['train_ratio']:.2f}, inference "
              f"{baseline['cuda']['infer_ratio']:.2f}, utilisation "
              f"{baseline['cuda_training']['utilisation_mean']:.0f} %", flush=True)
    if args.methods is None:
        args.methods = ["none"] if args.quick else ["all"]
    wanted = {m.lower() for m in args.methods}
    chosen = [] if "none" in wanted else [m for m in METHOD_BENCHMARKS if "all" in wanted or m.name.lower() in wanted
                                          or m.script.removesuffix(".py") in wanted]
    timeout = args.method_timeout or (150 if args.quick else 1800)
    methods = []
    for entry in chosen:
        methods.append(run_method(entry, quick=args.quick, cuda=cuda, timeout=timeout))
        print(f"{entry.name}: {methods[-1]['status']}", flush=True)
    results = {"environment": env, "baseline": baseline, "methods": methods}
    shown = (["--quick"] if args.quick else []) + ["--methods", *args.methods]
    page = write_page(Path(args.output), results, " ".join(["python benchmarks/performance.py", *shown]))
    print(f"wrote {page}")
    if args.json:
        print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
