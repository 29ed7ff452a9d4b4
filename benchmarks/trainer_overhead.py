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
"""Training-loop overhead, loader/step ratio and peak memory of the baseline trainer (ratios from one run).

    python benchmarks/trainer_overhead.py            # all three, CPU
    python benchmarks/trainer_overhead.py --quick    # smaller sizes

1. A step of ``TabularTrainer`` vs a bare PyTorch loop over the same network and batches (goal <= 1.05x):
   interleaved rounds, median of per-step times after warm-up.
2. With cached 3D data (``CacheDataset``), loader time per batch / step time (the loader must not be the
   bottleneck).
3. Peak memory (process RSS, in a fresh subprocess) of a 3D ResNet-18 fusion training step at batch 4.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from monai_tabular.engines import TabularTrainer
from monai_tabular.losses import TaskLoss
from monai_tabular.networks import create_classifier


def make_batches(n_batches: int, batch: int, size: tuple[int, ...], n_num: int = 4, cards=(3, 4)) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    return [{"image": torch.randn(batch, 1, *size, generator=generator),
             "numerical": torch.randn(batch, n_num, generator=generator), "numerical_mask": torch.ones(batch, n_num),
             "categorical": torch.randint(1, 3, (batch, len(cards)), generator=generator),
             "categorical_mask": torch.ones(batch, len(cards)),
             "label": torch.randint(0, 2, (batch,), generator=generator)} for _ in range(n_batches)]


def network(size, width: float = 0.25, encoder: str = "resnet10") -> torch.nn.Module:
    torch.manual_seed(0)
    return create_classifier(model="fusion", spatial_dims=len(size), in_channels=1, n_numerical=4,
                             cardinalities=[3, 4], out_channels=2, image_encoder=encoder,
                             image_encoder_args={"width_factor": width})


def bare_loop(net, optimizer, loss, batches) -> list[float]:
    times = []
    net.train()
    for batch in batches:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        outputs = net(batch)
        value = loss(outputs, batch)["task"]
        value.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def trainer_loop(net, optimizer, loss, batches) -> list[float]:
    times: list[float] = []
    trainer = TabularTrainer(device="cpu", max_epochs=1, train_data_loader=batches, network=net,
                             optimizer=optimizer, loss_function=loss)
    from ignite.engine import Events

    trainer.add_event_handler(Events.ITERATION_STARTED, lambda e: setattr(e, "_t0", time.perf_counter()))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: times.append(time.perf_counter() - e._t0))
    trainer.run()
    return times


def overhead(size, batch: int, rounds: int, steps: int) -> dict:
    net = network(size)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)
    loss = TaskLoss()
    batches = make_batches(steps, batch, size)
    bare_loop(net, optimizer, loss, batches[:2])  # warm-up
    trainer_loop(net, optimizer, loss, batches[:2])
    bare, engine = [], []
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        bare += bare_loop(net, optimizer, loss, batches)
        engine += trainer_loop(net, optimizer, loss, batches)
    b, e = statistics.median(bare), statistics.median(engine)
    return {"bare_step_s": b, "trainer_step_s": e, "ratio": e / b}


def loader_ratio(size, batch: int, n_subjects: int) -> dict:
    from monai.data import CacheDataset, DataLoader
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, NormalizeIntensityd, RandFlipd

    from monai_tabular.data import TableSchema, build_datalist
    from monai_tabular.data.synthetic import make_synthetic_cohort
    from monai_tabular.transforms import EncodeLabeld, EncodeTabled

    root = Path(tempfile.mkdtemp()) / "cohort"
    cohort = make_synthetic_cohort(root, n_subjects=n_subjects, spatial_dims=3, image_size=size, seed=0)
    schema = TableSchema.from_table(cohort.csv_path, cohort.spec).fit(cohort.csv_path)
    records = build_datalist(cohort.csv_path, schema)
    pipeline = Compose([LoadImaged("image", image_only=True), EnsureChannelFirstd("image"),
                        NormalizeIntensityd("image"), EncodeTabled(schema=schema), EncodeLabeld(schema=schema),
                        RandFlipd("image", prob=0.5, spatial_axis=0)])
    loader = DataLoader(CacheDataset(records, pipeline, progress=False), batch_size=batch, num_workers=0)
    net = create_classifier(model="fusion", spatial_dims=3, in_channels=1, n_numerical=len(schema.numerical),
                            cardinalities=schema.cardinalities, out_channels=2,
                            image_encoder_args={"width_factor": 0.5}, image_encoder="resnet10")
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)
    loss = TaskLoss()
    load_times, step_times = [], []
    for _ in range(2):
        start = time.perf_counter()
        for batch_data in loader:
            loaded = time.perf_counter()
            step_times += bare_loop(net, optimizer, loss, [batch_data])
            load_times.append(loaded - start)
            start = time.perf_counter()
    load, step = statistics.median(load_times), statistics.median(step_times)
    return {"load_s": load, "step_s": step, "ratio": load / step}


PEAK_SCRIPT = """
import resource, sys, json, torch
sys.path.insert(0, {here!r})
from trainer_overhead import network, make_batches, bare_loop
from monai_tabular.losses import TaskLoss
size = tuple({size!r})
net = network(size, width=1.0, encoder="resnet18")
opt = torch.optim.SGD(net.parameters(), lr=1e-3)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
bare_loop(net, opt, TaskLoss(), make_batches(1, 4, size))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"peak_rss_mib": peak / 1024, "before_step_mib": before / 1024}}))
"""


def peak_memory(size) -> dict:
    code = PEAK_SCRIPT.format(here=str(Path(__file__).resolve().parent), size=list(size))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    size = (32, 32, 32) if args.quick else (60, 60, 45)
    result = {"torch_threads": torch.get_num_threads()}
    result["overhead"] = overhead(size, batch=8, rounds=3 if args.quick else 5, steps=4 if args.quick else 6)
    print(f"trainer step / bare loop step: {result['overhead']['ratio']:.3f} "
          f"({result['overhead']['trainer_step_s'] * 1e3:.1f} / {result['overhead']['bare_step_s'] * 1e3:.1f} ms, "
          f"fusion ResNet-10 x0.25, 3D {size}, batch 8; goal <= 1.05)", flush=True)
    result["loader"] = loader_ratio(size, batch=8, n_subjects=32 if args.quick else 64)
    print(f"loader time / step time (cached 3D {size}, batch 8): {result['loader']['ratio']:.3f} "
          f"({result['loader']['load_s'] * 1e3:.1f} / {result['loader']['step_s'] * 1e3:.1f} ms)", flush=True)
    peak_size = (32, 32, 32) if args.quick else (120, 120, 90)
    result["peak"] = peak_memory(peak_size)
    print(f"peak RSS of a 3D ResNet-18 (full width) fusion training step, batch 4, {peak_size}: "
          f"{result['peak']['peak_rss_mib']:.0f} MiB (before the step: {result['peak']['before_step_mib']:.0f} MiB)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
