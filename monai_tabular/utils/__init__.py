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
"""Bottom-layer helpers that see only ``torch`` (any layer may import them)."""

from __future__ import annotations

from monai_tabular.utils.distributed import (all_reduce_sum, average_gradients, gather_rows, gather_with_grad,
                                             is_distributed, rank_and_world)

__all__ = ["is_distributed", "rank_and_world", "gather_rows", "gather_with_grad", "all_reduce_sum",
           "average_gradients"]
