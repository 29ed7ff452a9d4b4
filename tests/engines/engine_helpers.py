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
"""Hand-made networks and loaders for the trainer/evaluator tests (no bundle, no images)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

__all__ = ["LinearNet", "ModeNet", "make_loader", "make_samples"]


class LinearNet(nn.Module):
    """``{"logits": Linear(numerical)}``: no batch-dependent layers, so gradient accumulation is exact."""

    def __init__(self, n_in: int = 3, n_out: int = 2, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.linear = nn.Linear(n_in, n_out)
        with torch.no_grad():
            self.linear.weight.copy_(torch.randn(n_out, n_in, generator=generator))
            self.linear.bias.copy_(torch.randn(n_out, generator=generator))

    def forward(self, batch):
        return {"logits": self.linear(batch["numerical"])}


class ModeNet(LinearNet):
    """A ``LinearNet`` with a ``mode`` attribute that records the mode it ran in."""

    def __init__(self, *args, fail: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mode = "both"
        self.seen_modes: list[str] = []
        self.fail = fail

    def forward(self, batch):
        self.seen_modes.append(self.mode)
        if self.fail:
            raise RuntimeError("forward failed on purpose")
        return super().forward(batch)


def make_samples(n: int = 8, n_in: int = 3, seed: int = 0) -> list[dict]:
    """``n`` samples with a numerical vector, an int label and a subject id (a string, kept by collation)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_in, generator=generator)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return [{"numerical": x[i], "label": y[i], "subject_id": f"sub-{i:04d}"} for i in range(n)]


def make_loader(samples: list[dict], batch_size: int) -> DataLoader:
    return DataLoader(samples, batch_size=batch_size, shuffle=False)
