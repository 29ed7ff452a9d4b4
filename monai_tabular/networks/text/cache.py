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
"""Memory and disk cache of text embeddings, keyed by model identity and the sha256 of each text.

Layout on disk: ``<cache_dir>/<model_id>/<sha[:2]>/<sha>.pt`` (one float32 vector per text, written atomically:
a temporary file in the same folder, then ``os.replace``), so concurrent writers never leave a torn file and
several processes can share one cache folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["CACHE_ENV_VAR", "default_cache_dir", "text_key", "model_fingerprint", "EmbeddingCache"]

CACHE_ENV_VAR = "MONAI_TABULAR_CACHE"


def default_cache_dir() -> Path:
    """``$MONAI_TABULAR_CACHE/text_embeddings`` when the variable is set, else ``~/.cache/monai_tabular/text_embeddings``.

    Nothing is created.

    Example:
        >>> default_cache_dir().name
        'text_embeddings'
    """
    base = os.environ.get(CACHE_ENV_VAR)
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "monai_tabular"
    return root / "text_embeddings"


def text_key(text: str) -> str:
    """sha256 (hex) of the UTF-8 text: the cache key of one text.

    Example:
        >>> text_key("age")[:12]
        '013f54400c82'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_fingerprint(name: str, folder: str | os.PathLike, settings: Mapping[str, Any] | None = None) -> str:
    """Identity of a text model: ``<label>-<hash>``, the hash over ``name``, the relative names and sizes of the
    files in ``folder`` (hidden files left out) and the embedding ``settings`` (pooling, normalisation, ...).

    A changed checkpoint (other weights or config size) or other settings give another identity, so the cache never
    serves embeddings of another model.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "config.json").write_text("{}")
        ...     a, b = model_fingerprint("m", d, {"pooling": "mean"}), model_fingerprint("m", d, {"pooling": "cls"})
        >>> a.startswith("m-") and a != b
        True
    """
    root = Path(folder)
    files = sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in root.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    payload = json.dumps({"name": str(name), "files": files, "settings": dict(settings or {})}, sort_keys=True)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(name)).name or str(name))[:48] or "model"
    return f"{label}-{digest}"


class EmbeddingCache:
    """Text embeddings of one model, in memory and (when ``cache_dir`` is given) on disk.

    Args:
        model_id: the model identity (see :func:`model_fingerprint`); names the model's sub-folder.
        dim: embedding size; vectors of another shape found on disk are ignored (and recomputed).
        cache_dir: root folder of the disk cache, or ``None`` for memory only. A disk cache that cannot be
            written (read-only folder) falls back to memory with one warning.

    Example:
        >>> cache = EmbeddingCache("m-0", 3, None)
        >>> cache.put(text_key("a"), torch.ones(3))
        >>> cache.get(text_key("a")).tolist(), cache.get(text_key("b"))
        ([1.0, 1.0, 1.0], None)
    """

    def __init__(self, model_id: str, dim: int, cache_dir: str | os.PathLike | None) -> None:
        self.model_id = model_id
        self.dim = int(dim)
        self.folder = Path(cache_dir).expanduser() / model_id if cache_dir is not None else None
        self.memory: dict[str, torch.Tensor] = {}
        self._warned = False

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.pt"

    def get(self, key: str) -> torch.Tensor | None:
        """The cached vector (float32, CPU, shape (dim,)) or ``None``; a disk hit is kept in memory."""
        vec = self.memory.get(key)
        if vec is not None or self.folder is None:
            return vec
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            vec = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a foreign or damaged file: recompute and overwrite
            return None
        if not isinstance(vec, torch.Tensor) or tuple(vec.shape) != (self.dim,) or not vec.is_floating_point():
            return None
        self.memory[key] = vec = vec.float()
        return vec

    def put(self, key: str, vec: torch.Tensor) -> None:
        """Store ``vec`` (dim,) in memory and, when there is a disk cache, atomically on disk."""
        vec = vec.detach().to("cpu", torch.float32).clone()
        if tuple(vec.shape) != (self.dim,):
            raise ValueError(f"EmbeddingCache({self.model_id}): expected a vector of shape ({self.dim},), "
                             f"got {tuple(vec.shape)}")
        self.memory[key] = vec
        if self.folder is None:
            return
        path = self._path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                torch.save(vec, f)
            os.replace(tmp, path)
            tmp = None
        except OSError as e:
            if not self._warned:
                warnings.warn(f"text embedding cache {self.folder} is not writable ({e}); keeping embeddings in "
                              f"memory only", RuntimeWarning, stacklevel=2)
                self._warned = True
            self.folder = None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
