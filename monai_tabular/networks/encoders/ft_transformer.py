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
"""FT-Transformer table encoder (registry name "ft_transformer") and its per-column ``FeatureTokenizer``."""

from __future__ import annotations

import math

import torch
from monai.networks.blocks import MLPBlock
from torch import nn

from monai_tabular.networks.encoders.table_inputs import check_table_inputs
from monai_tabular.networks.registry import register_encoder

__all__ = ["FeatureTokenizer", "TransformerBlock", "FTTransformer"]


class FeatureTokenizer(nn.Module):
    """One d-dimensional token per table column, with a learned per-column token for a missing cell.

    Numerical column j: ``value * weight_j + bias_j``; categorical column j: a row of its own embedding table
    (index 0, the unknown category, is an ordinary row). A missing cell (mask 0) takes column j's learned missing
    token instead; the value stored in a missing cell is never read (NaN or out-of-range indices there are fine).
    Tokens are ordered numerical columns first, then categorical columns.

    Args:
        n_numerical: number of numerical columns (may be 0).
        cardinalities: per categorical column, the number of indices including the unknown index 0 (may be []).
        d_token: token size.
        owner: name used in error messages.

    Example:
        >>> tok = FeatureTokenizer(n_numerical=2, cardinalities=[3], d_token=4)
        >>> tok(torch.zeros(5, 2), None, torch.zeros(5, 1, dtype=torch.long), None).shape
        torch.Size([5, 3, 4])
    """

    def __init__(self, *, n_numerical: int, cardinalities: list[int] | None = None, d_token: int = 64,
                 owner: str = "FeatureTokenizer") -> None:
        super().__init__()
        cardinalities = [] if cardinalities is None else [int(c) for c in cardinalities]
        if int(n_numerical) < 0:
            raise ValueError(f"{owner}: n_numerical must be >= 0, got {n_numerical!r}")
        if any(c < 1 for c in cardinalities):
            raise ValueError(f"{owner}: cardinalities must be >= 1 (they include the unknown index 0), "
                             f"got {cardinalities}")
        if int(n_numerical) == 0 and not cardinalities:
            raise ValueError(f"{owner} needs at least one column: n_numerical is 0 and cardinalities is empty")
        if int(d_token) < 1:
            raise ValueError(f"{owner}: d_token must be >= 1, got {d_token!r}")
        self.owner = owner
        self.n_numerical, self.cardinalities, self.d_token = int(n_numerical), cardinalities, int(d_token)
        self.n_tokens = self.n_numerical + len(cardinalities)
        bound = 1.0 / math.sqrt(self.d_token)
        self.num_weight = nn.Parameter(torch.empty(self.n_numerical, self.d_token).uniform_(-bound, bound))
        self.num_bias = nn.Parameter(torch.empty(self.n_numerical, self.d_token).uniform_(-bound, bound))
        self.num_missing = nn.Parameter(torch.empty(self.n_numerical, self.d_token).uniform_(-bound, bound))
        # one table for all categorical columns: column j owns rows offset_j .. offset_j + card_j, the last "missing"
        sizes = torch.tensor([c + 1 for c in cardinalities], dtype=torch.long)
        self.register_buffer("_card", torch.tensor(cardinalities, dtype=torch.long), persistent=False)
        self.register_buffer("_offsets", torch.cumsum(sizes, 0) - sizes, persistent=False)
        self.embedding = nn.Embedding(int(sizes.sum()), self.d_token) if cardinalities else None
        if self.embedding is not None:
            nn.init.uniform_(self.embedding.weight, -bound, bound)

    def forward(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                categorical: torch.Tensor | None = None, categorical_mask: torch.Tensor | None = None,
                ) -> torch.Tensor:
        """Column tokens (B, n_numerical + n_categorical, d_token); left-out masks mean all observed."""
        x, x_obs, c, c_obs = check_table_inputs(numerical, numerical_mask, categorical, categorical_mask,
                                                n_numerical=self.n_numerical,
                                                n_categorical=len(self.cardinalities), owner=self.owner)
        tokens = []
        if self.n_numerical:
            w = self.num_weight
            x = torch.where(x_obs, x.to(w.dtype), torch.zeros((), dtype=w.dtype, device=w.device))  # no NaN in grad
            observed = x.unsqueeze(-1) * w + self.num_bias
            tokens.append(torch.where(x_obs.unsqueeze(-1), observed, self.num_missing.expand_as(observed)))
        if self.embedding is not None:
            bad = c_obs & ((c < 0) | (c >= self._card))
            if bool(bad.any()):
                row, col = (int(i) for i in bad.nonzero()[0])
                raise ValueError(f"{self.owner}: categorical column {col} has cardinality {self.cardinalities[col]} "
                                 f"(indices 0..{self.cardinalities[col] - 1}), got {int(c[row, col])} in row {row}")
            tokens.append(self.embedding(torch.where(c_obs, c, self._card.expand_as(c)) + self._offsets))
        return torch.cat(tokens, dim=1)


class TransformerBlock(nn.Module):
    """Pre-norm Transformer block: ``x + attn(LN(x))``, then ``x + MLP(LN(x))`` (torch attention, MONAI MLP).

    Args:
        d_model: token size.
        n_heads: attention heads (must divide ``d_model``).
        mlp_dim: hidden size of the GELU MLP.
        dropout: dropout on the attention weights, in the MLP and on both residual branches.

    Example:
        >>> TransformerBlock(8, 2, 16)(torch.randn(3, 5, 8)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(self, d_model: int, n_heads: int, mlp_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = MLPBlock(d_model, mlp_dim, dropout_rate=dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, h, h, need_weights=False)[0])
        return x + self.mlp(self.norm2(x))


@register_encoder("ft_transformer", kind="table")
class FTTransformer(nn.Module):
    """FT-Transformer (Gorishniy et al., 2021): column tokens + a CLS token through pre-norm Transformer blocks.

    Each column becomes a token (:class:`FeatureTokenizer`: a learned per-column token for a missing cell), a
    learned CLS token is prepended, and ``n_blocks`` pre-norm :class:`TransformerBlock` s (self-attention + GELU
    MLP) attend over all tokens. The embedding is the final LayerNorm of the CLS
    token.

    Args:
        n_numerical: number of numerical columns (may be 0).
        cardinalities: per categorical column, the number of indices including the unknown index 0 (may be []).
        d_token: token size, ``feature_dim``.
        n_blocks: number of Transformer blocks.
        n_heads: attention heads (must divide ``d_token``).
        mlp_ratio: MLP width relative to ``d_token``.
        dropout: dropout in attention and MLP.

    Attributes:
        feature_dim: ``d_token``.
        stage_dims: ``[d_token] * n_blocks``.

    Example:
        >>> enc = FTTransformer(n_numerical=2, cardinalities=[3, 4], d_token=16, n_heads=2, n_blocks=1)
        >>> x, c = torch.zeros(5, 2), torch.ones(5, 2, dtype=torch.long)
        >>> enc(numerical=x, numerical_mask=torch.ones(5, 2), categorical=c, categorical_mask=torch.ones(5, 2)).shape
        torch.Size([5, 16])
        >>> [tuple(t.shape) for t in enc.forward_features(numerical=x, categorical=c)]
        [(5, 4, 16)]
    """

    def __init__(self, *, n_numerical: int, cardinalities: list[int] | None = None, d_token: int = 64,
                 n_blocks: int = 3, n_heads: int = 8, mlp_ratio: float = 2.0, dropout: float = 0.1) -> None:
        super().__init__()
        if int(n_blocks) < 1:
            raise ValueError(f"FTTransformer: n_blocks must be >= 1, got {n_blocks!r}")
        if int(n_heads) < 1 or int(d_token) % int(n_heads):
            raise ValueError(f"FTTransformer: n_heads must divide d_token, got n_heads={n_heads!r}, "
                             f"d_token={d_token!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"FTTransformer: dropout must be in [0, 1), got {dropout!r}")
        if not float(mlp_ratio) > 0:
            raise ValueError(f"FTTransformer: mlp_ratio must be > 0, got {mlp_ratio!r}")
        self.tokenizer = FeatureTokenizer(n_numerical=n_numerical, cardinalities=cardinalities, d_token=d_token,
                                          owner="FTTransformer")
        self.n_numerical, self.cardinalities = self.tokenizer.n_numerical, self.tokenizer.cardinalities
        d = self.tokenizer.d_token
        self.cls_token = nn.Parameter(torch.empty(d).uniform_(-1 / math.sqrt(d), 1 / math.sqrt(d)))
        self.blocks = nn.ModuleList(
            TransformerBlock(d, int(n_heads), max(1, int(round(d * float(mlp_ratio)))), float(dropout))
            for _ in range(int(n_blocks)))
        self.norm = nn.LayerNorm(d)
        self.stage_dims: list[int] = [d] * int(n_blocks)
        self.feature_dim: int = d

    def _run(self, numerical, numerical_mask, categorical, categorical_mask) -> list[torch.Tensor]:
        tokens = self.tokenizer(numerical, numerical_mask, categorical, categorical_mask)
        h = torch.cat([self.cls_token.expand(tokens.shape[0], 1, -1), tokens], dim=1)
        outputs = []
        for block in self.blocks:
            h = block(h)
            outputs.append(h)
        return outputs

    def forward_features(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                         categorical: torch.Tensor | None = None,
                         categorical_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Per block, the column tokens (B, n_numerical + n_categorical, d_token) after it (CLS left out)."""
        return [h[:, 1:] for h in self._run(numerical, numerical_mask, categorical, categorical_mask)]

    def forward(self, numerical: torch.Tensor | None = None, numerical_mask: torch.Tensor | None = None,
                categorical: torch.Tensor | None = None, categorical_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The embedding (B, d_token): the final LayerNorm of the CLS token after the last block."""
        return self.norm(self._run(numerical, numerical_mask, categorical, categorical_mask)[-1][:, 0])
