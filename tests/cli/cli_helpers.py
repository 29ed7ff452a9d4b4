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
"""Helpers of the CLI tests: tiny training settings and a known table renamed and shuffled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

__all__ = ["TINY", "RENAMES", "one_torch_thread", "renamed_table"]

# the tiniest settings the baseline bundle trains with (one epoch of a narrow ResNet-10 on 16x16 images)
TINY = ["--set", "epochs=1", "--set", 'image_encoder_args={"width_factor": 0.125}', "--set", "batch_size=4"]
RENAMES = {"label": "diagnosis", "subject_id": "patient", "age": "age_years"}


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny networks train fastest on one thread; more threads crawl when other processes share the CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def renamed_table(cohort, path: Path, *, absolute_images: bool, drop: tuple[str, ...] = (), seed: int = 0) -> Path:
    """The cohort's CSV with renamed columns, shuffled column order and rows, written to ``path``."""
    frame = pd.read_csv(cohort.csv_path, dtype=str, keep_default_na=False).rename(columns=RENAMES)
    if absolute_images:
        frame["image"] = [str(cohort.root / p) for p in frame["image"]]
    frame = frame.drop(columns=list(drop))
    columns = list(frame.columns)
    order = pd.Series(columns).sample(frac=1.0, random_state=seed).tolist()
    frame = frame[order].sample(frac=1.0, random_state=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
