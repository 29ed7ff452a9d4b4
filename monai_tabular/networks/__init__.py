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
"""Networks on tensors only: an encoder registry (image and table encoders) and classifiers on the batch dict.

Example:
    >>> from monai_tabular.networks import create_encoder, list_encoders
    >>> {"resnet10", "resnet18", "resnet34", "resnet50"} <= set(list_encoders("image"))
    True
    >>> create_encoder("resnet18", spatial_dims=3, in_channels=1, width_factor=0.5).feature_dim
    256
"""

from __future__ import annotations

from monai_tabular.networks.cfcml import CFCML_VARIANTS, CFCMLNet, CrossModalBlock, TokenAdapter
from monai_tabular.networks.charms import CharmsNet
from monai_tabular.networks.citab import CITab
from monai_tabular.networks.encoders import ResNetEncoder, TableMLP
from monai_tabular.networks.fusion import create_fusion, list_fusions, register_fusion
from monai_tabular.networks.gaal import GAALNetwork, table_views_by_prefix
from monai_tabular.networks.mtcmtm import MTCMTMPretrainer, MTCMTMTableModel, ProjectionHead
from monai_tabular.networks.nets import MODES, FusionClassifier, ImageClassifier, TableClassifier
from monai_tabular.networks.nets.factory import CLASSIFIERS, create_classifier
from monai_tabular.networks.registry import (UnknownEncoderError, create_encoder, get_encoder_class, get_encoder_kind,
                                             list_encoders,
                                             register_encoder, unregister_encoder)

__all__ = ["create_encoder", "list_encoders", "register_encoder", "unregister_encoder", "get_encoder_kind", "get_encoder_class",
           "UnknownEncoderError", "ResNetEncoder", "TableMLP", "ImageClassifier", "TableClassifier",
           "FusionClassifier", "MODES", "CLASSIFIERS", "create_classifier", "create_fusion", "list_fusions",
           "register_fusion", "CFCMLNet", "CrossModalBlock", "TokenAdapter", "CFCML_VARIANTS", "CharmsNet",
           "GAALNetwork", "table_views_by_prefix", "CITab", "MTCMTMPretrainer", "MTCMTMTableModel",
           "ProjectionHead"]
