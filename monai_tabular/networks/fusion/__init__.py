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
"""Image-table fusion modules behind a registry: ``create_fusion(name, image_dim=..., table_dim=..., out_dim=...)``.

Every fusion is mask-aware: ``image_present`` / ``table_present`` (B,) flags decide, per sample, which modality
is used; an absent modality's features never reach the output (a learned "missing" embedding replaces it, or it
is left out of the combination), and a sample with neither modality is a ``ValueError``.

Example:
    >>> import torch
    >>> from monai_tabular.networks.fusion import create_fusion, list_fusions
    >>> list_fusions()
    ['concat', 'cross_attention', 'daft', 'gated_attention', 'late_average']
    >>> fusion = create_fusion("concat", image_dim=8, table_dim=4, out_dim=3)
    >>> fusion(torch.randn(2, 8), torch.randn(2, 4), image_present=torch.ones(2),
    ...        table_present=torch.tensor([1.0, 0.0])).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

from monai_tabular.networks.fusion.base import FusionBase
from monai_tabular.networks.fusion.concat import ConcatFusion
from monai_tabular.networks.fusion.cross_attention import CrossAttentionFusion
from monai_tabular.networks.fusion.daft import DAFTFusion
from monai_tabular.networks.fusion.gated_attention import GatedAttentionFusion
from monai_tabular.networks.fusion.late_average import LateAverageFusion
from monai_tabular.networks.fusion.registry import (UnknownFusionError, create_fusion, get_fusion_class,
                                                    list_fusions, register_fusion, unregister_fusion)

__all__ = ["UnknownFusionError", "register_fusion", "unregister_fusion", "create_fusion", "list_fusions",
           "get_fusion_class", "FusionBase", "ConcatFusion", "LateAverageFusion", "GatedAttentionFusion",
           "DAFTFusion", "CrossAttentionFusion"]
