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
"""Built-in encoders; importing this package registers them.

Image: resnet10/18/34/50, swin_t, nnmamba. Table: mlp, ft_transformer, resnet1d_cbam, sat.
"""

from __future__ import annotations

from monai_tabular.networks.encoders.ft_transformer import FeatureTokenizer, FTTransformer
from monai_tabular.networks.encoders.mlp import TableMLP
from monai_tabular.networks.encoders.nnmamba import NNMambaEncoder
from monai_tabular.networks.encoders.resnet import ResNetEncoder, check_image_input
from monai_tabular.networks.encoders.resnet1d_cbam import ResNet1DCBAM
from monai_tabular.networks.encoders.sat import SATEncoder
from monai_tabular.networks.encoders.swin import SwinEncoder
from monai_tabular.networks.encoders.table_inputs import check_table_inputs

__all__ = ["ResNetEncoder", "TableMLP", "check_image_input", "check_table_inputs", "FeatureTokenizer",
           "FTTransformer", "ResNet1DCBAM", "SATEncoder", "SwinEncoder", "NNMambaEncoder"]
