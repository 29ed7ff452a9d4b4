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
"""CHARMS speed: alignment time, training-step ratio to the image-only baseline, inference ratio (one run).

1. Alignment for C=2048 channels, 100 attributes (60 numerical, 40 categorical with 5% missing cells), N=512
   samples, C'=40 clusters: K-Means + similarity matrices + cost + ``ot.emd`` (goal < 1 s on CPU). Wall and
   process CPU time are both printed: on a shared machine the CPU time is the fairer number.
2. Training step of CHARMS (image + table model + auxiliary heads, backward, AdamW) / image-only step, same
   backbone and batch; the re-alignment (features of the alignment subset + alignment) amortised over
   ``align_every`` epochs of ``steps_per_epoch`` steps (goal <= 1.25).
3. Inference of the exported CHARMS model (a plain ImageClassifier) / the image-only baseline (goal 1.00).

Steps alternate between the two models and medians are taken, so load from other processes hits both alike.

    python benchmarks/charms.py                       # 3D quarter-width ResNet-10 at 60x60x45 (the real-data setup)
    python benchmarks/charms.py --encoder resnet50 --width 1.0 --spatial-dims 2 --size 64
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from monai_tabular.engines.charms import align_channels
from monai_tabular.losses import TaskLoss
from monai_tabular.losses.charms import CharmsLoss
from monai_tabular.networks import create_classifier
from monai_tabular.networks.charms import CharmsNet


def _timed(function, repeats: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def alignment_benchmark(*, channels=2048, numerical=60, categorical=40, samples=512, clusters=40, repeats=3):
    generator = torch.Generator().manual_seed(0)
    activations = torch.relu(torch.randn(samples, channels, generator=generator))
    table = {"numerical": torch.randn(samples, numerical, generator=generator),
             "numerical_mask": (torch.rand(samples, numerical, generator=generator) > 0.05).float(),
             "categorical": torch.randint(1, 6, (samples, categorical), generator=generator),
             "categorical_mask": (torch.rand(samples, categorical, generator=generator) > 0.05).float()}
    align_channels(activations[:64], **{k: v[:64] for k, v in table.items()}, n_clusters=8)  # warm-up
    wall, cpu = _timed(lambda: align_channels(activations, **table, n_clusters=clusters), repeats)
    print(f"alignment C={channels}, A={numerical + categorical}, N={samples}, C'={clusters}, "
          f"{torch.get_num_threads()} thread(s): wall {wall:.3f} s, CPU {cpu:.3f} s (goal < 1 s)")
    return wall, cpu


def _batch(args, generator):
    size = [args.size] * args.spatial_dims if args.spatial_dims == 2 else [60, 60, 45]
    n_num, cards = 20, [3, 4, 5]
    return {"image": torch.randn(args.batch_size, 1, *size, generator=generator),
            "numerical": torch.randn(args.batch_size, n_num, generator=generator),
            "numerical_mask": torch.ones(args.batch_size, n_num),
            "categorical": torch.stack([torch.randint(1, c, (args.batch_size,), generator=generator)
                                        for c in cards], 1),
            "categorical_mask": torch.ones(args.batch_size, len(cards)),
            "label": torch.randint(0, 2, (args.batch_size,), generator=generator)}, n_num, cards


def step_benchmark(args):
    generator = torch.Generator().manual_seed(0)
    batch, n_num, cards = _batch(args, generator)
    encoder = {"image_encoder": args.encoder, "image_encoder_args": {"width_factor": args.width}}
    shared = {"spatial_dims": args.spatial_dims, "in_channels": 1, "n_numerical": n_num, "cardinalities": cards,
              "out_channels": 2, **encoder}
    charms = CharmsNet(**shared).train()
    baseline = create_classifier(model="image", **shared).train()
    charms_opt, baseline_opt = (torch.optim.AdamW(m.parameters(), lr=1e-4) for m in (charms, baseline))
    charms_loss, baseline_loss = CharmsLoss(), TaskLoss()

    def charms_step():
        charms_opt.zero_grad(set_to_none=True)
        terms = charms_loss(charms(batch), batch)
        sum(charms_loss.weights[k] * v for k, v in terms.items()).backward()
        charms_opt.step()

    def baseline_step():
        baseline_opt.zero_grad(set_to_none=True)
        baseline_loss(baseline(batch), batch)["task"].backward()
        baseline_opt.step()

    charms_step(), baseline_step()  # warm-up
    charms_times, baseline_times = [], []
    for _ in range(args.steps):
        charms_times.append(_timed(charms_step, 1)[0])
        baseline_times.append(_timed(baseline_step, 1)[0])
    charms_time, baseline_time = statistics.median(charms_times), statistics.median(baseline_times)

    # re-alignment: features of the fixed training subset (eval, no grad) + the alignment itself
    def realign():
        activations, numerical, categorical = [], [], []
        charms.eval()
        with torch.no_grad():
            for _ in range(max(1, args.align_samples // args.batch_size)):
                activations.append(charms.channel_activations(batch["image"]))
                numerical.append(batch["numerical"] + torch.randn_like(batch["numerical"]))
                categorical.append(batch["categorical"])
        charms.train()
        align_channels(torch.cat(activations) + 0.01 * torch.rand(len(activations) * args.batch_size,
                                                                 charms.channels),
                       numerical=torch.cat(numerical), categorical=torch.cat(categorical),
                       n_clusters=min(args.clusters, charms.channels))

    align_time = _timed(realign, 1)[0]
    amortised = charms_time + align_time / (args.align_every * args.steps_per_epoch)
    print(f"train step ({args.encoder} x{args.width}, {args.spatial_dims}D, batch {args.batch_size}): CHARMS "
          f"{charms_time * 1000:.0f} ms, image-only {baseline_time * 1000:.0f} ms, ratio "
          f"{charms_time / baseline_time:.3f}; re-alignment on {args.align_samples} samples {align_time:.2f} s every "
          f"{args.align_every} epochs of {args.steps_per_epoch} steps -> amortised ratio "
          f"{amortised / baseline_time:.3f} (goal <= 1.25)")

    exported = create_classifier(model="image", **shared).eval()
    exported.load_state_dict(charms.image_model.state_dict())
    baseline.eval()
    exported_times, baseline_times = [], []
    with torch.no_grad():
        exported({"image": batch["image"]}), baseline({"image": batch["image"]})
        for _ in range(3 * args.steps):  # cheap: more repeats against the noise of a shared machine
            exported_times.append(_timed(lambda: exported({"image": batch["image"]}), 1)[0])
            baseline_times.append(_timed(lambda: baseline({"image": batch["image"]}), 1)[0])
    ratio = statistics.median(exported_times) / statistics.median(baseline_times)
    print(f"inference (exported CHARMS model = {type(exported).__name__}, same parameters as the baseline: "
          f"{sum(p.numel() for p in exported.parameters()) == sum(p.numel() for p in baseline.parameters())}): "
          f"ratio {ratio:.3f} (goal 1.00)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="resnet10")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--spatial-dims", type=int, default=3)
    parser.add_argument("--size", type=int, default=64, help="2D image side")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--align-every", type=int, default=5)
    parser.add_argument("--steps-per-epoch", type=int, default=13, help="IXI fold: 108 training subjects / 8")
    parser.add_argument("--align-samples", type=int, default=108)
    parser.add_argument("--clusters", type=int, default=40)
    parser.add_argument("--skip-alignment", action="store_true")
    args = parser.parse_args()
    if not args.skip_alignment:
        alignment_benchmark()
    step_benchmark(args)


if __name__ == "__main__":
    main()
