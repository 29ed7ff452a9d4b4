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
"""Time of the survival losses (forward + backward) at n = 1e3, 1e4, 1e5 subjects on CPU, and their growth.

The Cox loss sorts once and takes a cumulative log-sum-exp (O(n log n)); an n x n risk-set matrix would grow
10^4-fold from 1e3 to 1e5 subjects (and need 40 GB at 1e5).

    python benchmarks/survival_loss.py
"""

from __future__ import annotations

import math
import time

import torch

from monai_tabular.losses.survival import cox_partial_likelihood, logistic_hazard_loss


def timed(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    torch.manual_seed(0)
    sizes = (1_000, 10_000, 100_000)
    results = {}
    for n in sizes:
        risk = torch.randn(n, requires_grad=True)
        times = torch.rand(n).mul(100).round()  # ties
        events = (torch.rand(n) < 0.6).float()
        logits = torch.randn(n, 10, requires_grad=True)
        cuts = torch.linspace(0, 100, 11)

        def cox():
            cox_partial_likelihood(risk, times, events).backward()

        def hazard():
            logistic_hazard_loss(logits, times, events, cuts).backward()

        results[n] = (timed(cox), timed(hazard))
        print(f"n={n:>7}: cox {results[n][0] * 1e3:8.2f} ms   logistic hazard {results[n][1] * 1e3:8.2f} ms",
              flush=True)
    small, large = sizes[0], sizes[-1]
    growth = results[large][0] / results[small][0]
    nlogn = (large * math.log(large)) / (small * math.log(small))
    print(f"cox growth 1e3 -> 1e5: x{growth:.0f} (n log n predicts x{nlogn:.0f}, n^2 x{(large / small) ** 2:.0f}); "
          f"1e5 in {results[large][0]:.3f} s ({'<' if results[large][0] < 1 else '>='} 1 s)")


if __name__ == "__main__":
    main()
