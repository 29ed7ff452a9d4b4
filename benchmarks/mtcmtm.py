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
"""MT-CMTM speed, as ratios measured in one run.

1. pretraining step (image + table encoders, projections, mask head, InfoNCE + mask loss) / image-only training
   step with the same image backbone (goal <= 1.3);
2. marginal corruption of one batch (``CorruptTabled`` on each row, as the data loader applies it, and the batched
   ``TableMarginals.corrupt``) as % of a pretraining step (goal < 5 %);
3. table-only inference throughput of the downstream model (rows/s).

    python benchmarks/mtcmtm.py                       # 3D 60x60x45 (IXI at 4 mm), quarter-width ResNet-10
    python benchmarks/mtcmtm.py --spatial 2 --size 128 128 --n-numerical 1 --cardinalities 4 4 4 4 4 4 4 4
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import torch

from monai_tabular.data import TableSchema
from monai_tabular.losses import TaskLoss
from monai_tabular.losses.mtcmtm import MTCMTMLoss
from monai_tabular.networks.mtcmtm import MTCMTMPretrainer, MTCMTMTableModel
from monai_tabular.networks.nets.image import ImageClassifier
from monai_tabular.transforms import CorruptTabled, EncodeTabled


def _schema(n_numerical: int, cardinalities: list[int], rows: int = 200) -> TableSchema:
    rng = np.random.default_rng(0)
    frame = {"sid": [f"s{i}" for i in range(rows)], "y": rng.choice(["a", "b"], rows)}
    for j in range(n_numerical):
        frame[f"x{j}"] = rng.normal(size=rows).round(3).astype(str)
    for j, size in enumerate(cardinalities):
        frame[f"c{j}"] = rng.choice([f"k{v}" for v in range(size - 1)], rows)
    spec = {"subject_id": "sid", "label": "y", "numerical": [f"x{j}" for j in range(n_numerical)],
            "categorical": [f"c{j}" for j in range(len(cardinalities))], "infer": False}
    return TableSchema.from_table(pd.DataFrame(frame), spec).fit(pd.DataFrame(frame))


def _timed(step, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spatial", type=int, default=3)
    parser.add_argument("--size", type=int, nargs="+", default=[60, 60, 45])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-encoder", default="resnet10")
    parser.add_argument("--width-factor", type=float, default=0.25)
    parser.add_argument("--n-numerical", type=int, default=3)
    parser.add_argument("--cardinalities", type=int, nargs="*", default=[5, 5, 6, 6])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = _schema(args.n_numerical, args.cardinalities)
        corrupt = CorruptTabled(schema=schema, rate=0.3)
    encode = EncodeTabled(schema=schema)
    rows = [{"table": {name: schema[name].marginal[0] if name in schema.numerical else "k0"
                       for name in schema.features}} for _ in range(args.batch_size)]
    encoded = [encode(r) for r in rows]
    b = args.batch_size
    batch = {k: torch.stack([torch.as_tensor(e[k]) for e in encoded]) for k in
             ("numerical", "numerical_mask", "categorical", "categorical_mask")}
    batch["image"] = torch.randn(b, 1, *args.size)
    batch["label"] = torch.randint(0, 2, (b,))
    batch["numerical_corruption"] = torch.zeros(b, args.n_numerical)
    batch["categorical_corruption"] = torch.zeros(b, len(args.cardinalities))
    image_args = {"width_factor": args.width_factor}
    pretrainer = MTCMTMPretrainer(n_numerical=args.n_numerical, cardinalities=schema.cardinalities,
                                  spatial_dims=args.spatial, in_channels=1, image_encoder=args.image_encoder,
                                  image_encoder_args=image_args)
    image_model = ImageClassifier(encoder=args.image_encoder, spatial_dims=args.spatial, in_channels=1,
                                  out_channels=2, encoder_args=image_args)
    pre_loss, task_loss = MTCMTMLoss(), TaskLoss()
    pre_opt = torch.optim.AdamW(pretrainer.parameters(), lr=1e-4)
    img_opt = torch.optim.AdamW(image_model.parameters(), lr=1e-4)

    def pretrain_step():
        pre_opt.zero_grad(set_to_none=True)
        sum(pre_loss(pretrainer(batch), batch).values()).backward()
        pre_opt.step()

    def image_step():
        img_opt.zero_grad(set_to_none=True)
        sum(task_loss(image_model(batch), batch).values()).backward()
        img_opt.step()

    def corrupt_rows():
        for e in encoded:
            corrupt(e)

    def corrupt_batch():
        corrupt.marginals.corrupt(batch["numerical"], batch["numerical_mask"], kind="numerical", rate=0.3)
        corrupt.marginals.corrupt(batch["categorical"], batch["categorical_mask"], kind="categorical", rate=0.3)

    pretrain_step(), image_step()  # warm-up
    pre_times, img_times = [], []
    for _ in range(args.repeats):  # interleaved, so a change in machine load hits both alike
        pre_times += _timed(pretrain_step, 1)
        img_times += _timed(image_step, 1)
    pre, img = statistics.median(pre_times), statistics.median(img_times)
    rows_t = statistics.median(_timed(corrupt_rows, 20))
    batch_t = statistics.median(_timed(corrupt_batch, 20))
    table_model = MTCMTMTableModel(n_numerical=args.n_numerical, cardinalities=schema.cardinalities,
                                   out_channels=2).eval()
    n = 4096
    big = {k: v[:1].expand(n, *v.shape[1:]).contiguous() for k, v in batch.items()
           if k in ("numerical", "numerical_mask", "categorical", "categorical_mask")}
    with torch.no_grad():
        table_model(big)
        infer = statistics.median(_timed(lambda: table_model(big), 5))
    print(f"setting: {args.spatial}D {args.size}, batch {b}, {args.image_encoder} width {args.width_factor}, "
          f"table {args.n_numerical} numerical + {len(args.cardinalities)} categorical, {args.threads} thread(s)")
    print(f"pretraining step {pre * 1e3:.1f} ms / image-only step {img * 1e3:.1f} ms = {pre / img:.2f} (goal <= 1.3)")
    print(f"corruption per batch: per-row CorruptTabled {rows_t * 1e3:.2f} ms = {100 * rows_t / pre:.2f} % of a "
          f"pretraining step; batched TableMarginals.corrupt {batch_t * 1e3:.3f} ms = {100 * batch_t / pre:.3f} % "
          "(goal < 5 %)")
    print(f"table-only inference (MTCMTMTableModel, resnet1d_cbam defaults): {n / infer:,.0f} rows/s")


if __name__ == "__main__":
    main()
