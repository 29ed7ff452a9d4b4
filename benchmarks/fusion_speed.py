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
"""Training-step time of each registered fusion relative to concatenation, same encoders and batch.

A step is forward + backward + AdamW update of a ``FusionClassifier`` (ResNet-10 image encoder at
``--width-factor``, MLP table encoder); each fusion's median over ``--steps`` steps is divided by concat's,
measured in the same run, alternating the fusions so that background load hits all of them alike.
Goal: <= 1.1 for every fusion except cross-attention.

    python benchmarks/fusion_speed.py --spatial-dims 3 --size 32 --batch-size 8
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from monai_tabular.networks.fusion import list_fusions
from monai_tabular.networks.nets import FusionClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spatial-dims", type=int, default=3)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--width-factor", type=float, default=0.25)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    batch = {"image": torch.randn(args.batch_size, 1, *([args.size] * args.spatial_dims)),
             "numerical": torch.randn(args.batch_size, 6), "numerical_mask": torch.ones(args.batch_size, 6),
             "categorical": torch.ones(args.batch_size, 2, dtype=torch.long),
             "categorical_mask": torch.ones(args.batch_size, 2)}
    label = torch.randint(0, 2, (args.batch_size,))
    models = {}
    for name in list_fusions():
        net = FusionClassifier(image_encoder="resnet10", table_encoder="mlp", spatial_dims=args.spatial_dims,
                               in_channels=1, n_numerical=6, cardinalities=[3, 3], out_channels=2, fusion=name,
                               image_encoder_args={"width_factor": args.width_factor})
        models[name] = (net, torch.optim.AdamW(net.parameters(), lr=1e-3))

    def step(name: str) -> float:
        net, optimizer = models[name]
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(batch)["logits"], label)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    times = {name: [] for name in models}
    for name in models:  # warm-up
        step(name)
    for _ in range(args.steps):
        for name in models:
            times[name].append(step(name))
    reference = statistics.median(times["concat"])
    print(f"{args.spatial_dims}D {args.size}^{args.spatial_dims}, batch {args.batch_size}, ResNet-10 x"
          f"{args.width_factor}, {torch.get_num_threads()} threads; median of {args.steps} steps")
    for name, values in times.items():
        ratio = statistics.median(values) / reference
        goal = "(no goal)" if name == "cross_attention" else ("ok" if ratio <= 1.1 else "above 1.1")
        print(f"{name:>16}: {statistics.median(values) * 1e3:8.1f} ms  x{ratio:.3f} of concat  {goal}")


if __name__ == "__main__":
    main()
