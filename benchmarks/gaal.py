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
"""GAAL cost ratios from one run (CPU by default; ``--device cuda`` on a GPU).

    python benchmarks/gaal.py            # 3D 60x60x45 batch 8 and 2D 128x128 batch 16, ResNet-10 1/4 width
    python benchmarks/gaal.py --quick    # smaller inputs
    python benchmarks/gaal.py --large --device cuda   # 120x120x90 ResNet-10 and 224x224 ResNet-50 (GPU)

1. Training: one GAAL iteration (image step + table step, surgery with the hard-sample gradient) / one
   image-only training step with the same backbone (goal <= 2.2), both as ``TabularTrainer`` iterations.
2. Inference: GAAL forward in mode ``both`` / (image-only forward + table-only forward) of the same backbones
   (goal ~1: the two unimodal passes plus a shared linear layer).
Interleaved rounds, median of per-step times after warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from ignite.engine import Events

from monai_tabular.engines import TabularTrainer
from monai_tabular.engines.gaal import GAALStep
from monai_tabular.losses import TaskLoss
from monai_tabular.networks import create_classifier
from monai_tabular.networks.gaal import GAALNetwork

TABLE = {"n_numerical": 8, "cardinalities": [3, 4, 3]}


def make_batch(batch: int, size: tuple[int, ...], device: str) -> dict:
    generator = torch.Generator().manual_seed(0)
    data = {"image": torch.randn(batch, 1, *size, generator=generator),
            "numerical": torch.randn(batch, 8, generator=generator), "numerical_mask": torch.ones(batch, 8),
            "categorical": torch.randint(1, 3, (batch, 3), generator=generator),
            "categorical_mask": torch.ones(batch, 3), "label": torch.randint(0, 2, (batch,), generator=generator)}
    return {k: v.to(device) for k, v in data.items()}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def trainer_times(network, optimizer, batches: list[dict], device: str, step=None) -> list[float]:
    """Per-iteration times of ``TabularTrainer`` over ``batches`` (the first iteration dropped as warm-up)."""
    times: list[float] = []
    trainer = TabularTrainer(device=device, max_epochs=1, train_data_loader=batches, network=network,
                             optimizer=optimizer, loss_function=TaskLoss(), step_function=step)

    def started(engine) -> None:
        _sync(device)
        engine._t0 = time.perf_counter()

    def completed(engine) -> None:
        _sync(device)
        times.append(time.perf_counter() - engine._t0)

    trainer.add_event_handler(Events.ITERATION_STARTED, started)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, completed)
    trainer.run()
    return times[1:]


def compare(size: tuple[int, ...], batch: int, rounds: int, steps: int, device: str, encoder: str = "resnet10",
            width: float = 0.25) -> dict:
    dims = len(size)
    encoders = {"image_encoder": encoder, "image_encoder_args": {"width_factor": width}}
    torch.manual_seed(0)
    gaal = GAALNetwork(spatial_dims=dims, in_channels=1, out_channels=2, **encoders, **TABLE).to(device)
    image = create_classifier(model="image", spatial_dims=dims, in_channels=1, out_channels=2, **encoders,
                              **TABLE).to(device)
    table = create_classifier(model="table", spatial_dims=dims, in_channels=1, out_channels=2, **encoders,
                              **TABLE).to(device)
    batches = [make_batch(batch, size, device)] * (steps + 1)
    data = batches[0]
    gaal_opt = torch.optim.AdamW(gaal.parameters(), lr=1e-4)
    image_opt = torch.optim.AdamW(image.parameters(), lr=1e-4)
    step = GAALStep()

    def gaal_infer() -> None:
        with torch.no_grad():
            gaal(data)

    def unimodal_infer() -> None:
        with torch.no_grad():
            image(data)
            table(data)

    trainer_times(image, image_opt, batches[:3], device)  # warm-up
    trainer_times(gaal, gaal_opt, batches[:3], device, step)
    train = {"image": [], "gaal": []}
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        train["image"] += trainer_times(image, image_opt, batches, device)
        train["gaal"] += trainer_times(gaal, gaal_opt, batches, device, step)
    gaal.eval(), image.eval(), table.eval()
    infer = {"gaal": [], "unimodal": []}
    for _ in range(rounds):
        for _ in range(steps):
            infer["gaal"].append(_timed(gaal_infer, device))
            infer["unimodal"].append(_timed(unimodal_infer, device))
    median = {f"train_{k}": statistics.median(v) for k, v in train.items()}
    median.update({f"infer_{k}": statistics.median(v) for k, v in infer.items()})
    median["train_ratio"] = median["train_gaal"] / median["train_image"]
    median["infer_ratio"] = median["infer_gaal"] / median["infer_unimodal"]
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--large", action="store_true", help="full-resolution IXI 3D ResNet-10 and 2D ResNet-50")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    cases = [((60, 60, 45), 8, "resnet10", 0.25), ((128, 128), 16, "resnet10", 0.25)]
    if args.quick:
        cases = [((32, 32, 24), 4, "resnet10", 0.25), ((64, 64), 8, "resnet10", 0.25)]
    if args.large:
        cases = [((120, 120, 90), 8, "resnet10", 1.0), ((224, 224), 32, "resnet50", 1.0)]
    print(f"device {args.device}, threads {torch.get_num_threads()}; image encoder + MLP table encoder")
    for size, batch, encoder, width in cases:
        result = compare(size, batch, args.rounds, args.steps, args.device, encoder, width)
        print(f"{encoder} width {width} {'x'.join(map(str, size))} batch {batch}: "
              f"train step GAAL {result['train_gaal'] * 1e3:.1f} ms / "
              f"image-only {result['train_image'] * 1e3:.1f} ms = {result['train_ratio']:.2f}x (goal <= 2.2); "
              f"inference GAAL {result['infer_gaal'] * 1e3:.1f} ms / image-only + table-only "
              f"{result['infer_unimodal'] * 1e3:.1f} ms = {result['infer_ratio']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
