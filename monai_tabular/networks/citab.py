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
"""``CITab``: cross-table image-table pretraining and fine-tuning network.

A batch holds, per row, a variable list of cells (value, observed flag, header id into the network's header
vocabulary; see ``monai_tabular.data.cross_table``). The header texts are embedded once, at construction, by a
frozen cached text model, so columns are told apart by what their headers say and a table with columns never seen
in pretraining needs no new parameters. Image tokens (pooled patches of the last feature map) and table tokens
(SAT encoder with P-MoLin) meet in a unified self-attention fusion with a class token.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from monai_tabular.networks.encoders.sat import SATEncoder
from monai_tabular.networks.nets.base import build_encoder, get_image
from monai_tabular.networks.text import DEFAULT_TEXT_MODEL, TextEmbedder, create_text_embedder

__all__ = ["CITab", "CELL_KEYS", "check_header_texts", "text_identity_vectors", "PretrainedMismatchError"]

logger = logging.getLogger(__name__)

CELL_KEYS = ("cell_values", "cell_observed", "cell_header_ids")
_HEAD = ("classifier.",)  # the fine-tuning head: never taken from a pretrained state


class PretrainedMismatchError(ValueError):
    """A pretrained CITab state that cannot initialise this network (another image encoder, not a CITab state)."""


def check_header_texts(header_texts: Sequence[str]) -> list[str]:
    """The header vocabulary as a list, refusing an empty or duplicated header text (naming it).

    Example:
        >>> check_header_texts(["age (years)", "sex: F"])
        ['age (years)', 'sex: F']
    """
    if isinstance(header_texts, str) or not isinstance(header_texts, Sequence) or not header_texts:
        raise ValueError("CITab: header_texts must be a non-empty list of header texts")
    texts, seen = [], {}
    for position, text in enumerate(header_texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"CITab: header text {position} is empty ({text!r}); every column needs a header")
        if text in seen:
            raise ValueError(f"CITab: header text {text!r} is duplicated (positions {seen[text]} and {position})")
        seen[text] = position
        texts.append(text)
    return texts


def text_identity_vectors(texts: Sequence[str], dim: int) -> torch.Tensor:
    """One fixed random unit vector per text, seeded by the text's sha256 (the "no header embedding" ablation):
    the same header always gets the same vector, but similar headers get unrelated ones.

    Example:
        >>> v = text_identity_vectors(["age", "age", "sex"], 8)
        >>> torch.equal(v[0], v[1]), bool((v[0] - v[2]).abs().sum() > 0)
        (True, True)
    """
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little") & (2 ** 63 - 1)
        rows.append(F.normalize(torch.randn(int(dim), generator=torch.Generator().manual_seed(seed)), dim=0))
    return torch.stack(rows) if rows else torch.zeros(0, int(dim))


def _encoder_id(name: str, args: Mapping[str, Any] | None) -> str:
    shape_args = {k: v for k, v in sorted(dict(args or {}).items()) if k != "gradient_checkpointing"}
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in shape_args.items())})"


class CITab(nn.Module):
    """CITab network: image encoder + header-aware SAT table encoder + unified self-attention fusion.

    Forward (``batch`` dict): ``image`` (B, C, *spatial) and the cell tensors ``cell_values`` (B, n) float,
    ``cell_observed`` (B, n) 0/1, ``cell_header_ids`` (B, n) indices into ``header_texts`` and optionally
    ``cell_padding`` (B, n), True where the row has fewer cells than the batch (``n <= max_columns``).

    * Image tokens: the last feature map average-pooled to ``image_token_grid`` patches per axis, projected to
      ``fusion_dim``, plus a learned position embedding. Global image embedding: the map's global average.
    * Table tokens: ``SATEncoder`` over the cells (value embedding times projected header embedding, masked
      self-attention with P-MoLin feed-forwards); its CLS output is the global table embedding and, with its
      attribute tokens, enters the fusion. Padding and missing cells are masked keys everywhere.
    * Fusion: a class token, the image tokens and the table tokens (each with a modality embedding) through
      ``fusion_blocks`` pre-norm transformer blocks; the class token feeds the classifier (fine-tuning) and the
      image-table matching head (pretraining, via :meth:`match_logits`).

    Outputs: ``image_embedding``/``table_embedding`` (B, embed_dim), L2-normalised, for the contrastive loss;
    ``logits``: the classifier output (B, out_channels), or when ``pretraining`` the image-table similarity
    matrix (B, B) (no fusion pass; the matching loss calls :meth:`match_logits` on chosen pairs); in pretraining
    also the fusion inputs ``image_tokens``, ``table_tokens`` and ``table_ignore`` that :meth:`match_logits` takes.

    Checkpoints carry the image encoder identity and the header vocabulary (``get_extra_state``): loading a state
    of another image encoder raises :class:`PretrainedMismatchError` naming both, and loading a pretrained state
    logs the header texts (columns, categories) never seen in pretraining.

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        header_texts: the header vocabulary (every cell's header text; no empty or duplicated text).
        out_channels: classes (fine-tuning head); unused when ``pretraining``.
        image_encoder: image encoder name in the registry (default "resnet50").
        image_encoder_args: its arguments (e.g. ``{"width_factor": 0.25, "gradient_checkpointing": true}``).
        max_columns: most cells per row (the SAT attribute slots; rows are padded to it).
        table_args: SAT arguments: ``d_model``, ``n_blocks``, ``n_heads``, ``n_prototypes``, ``dropout``, ``ffn``
            ("pmolin" or "mlp" for the plain-FFN ablation).
        use_headers: False for the "no header embedding" ablation: each header text gets a fixed random vector
            (its identity, without its meaning) instead of its text embedding.
        text_encoder: text model name/folder or a ``TextEmbedder`` (see ``create_text_embedder``).
        text_encoder_args: further ``create_text_embedder`` arguments.
        image_token_grid: patches per spatial axis (tokens = grid ** spatial_dims).
        fusion_dim, fusion_blocks, fusion_heads: unified transformer size (default 512, 4, 8).
        embed_dim: size of the contrastive embeddings.
        dropout: dropout in the fusion and before the classifier.
        pretraining: return the pretraining outputs (see above) instead of the classifier's.
        linear_probe: freeze everything but the classifier (kept in eval mode, so no dropout/batch-norm updates).

    Example:
        >>> net = CITab(spatial_dims=2, in_channels=1, header_texts=["a", "b", "c"], out_channels=2,
        ...             image_encoder="resnet10", image_encoder_args={"width_factor": 0.125}, max_columns=4,
        ...             table_args={"d_model": 16, "n_blocks": 1, "n_heads": 2}, use_headers=False,
        ...             fusion_dim=16, fusion_blocks=1, fusion_heads=2, embed_dim=8)
        >>> batch = {"image": torch.zeros(2, 1, 32, 32), "cell_values": torch.ones(2, 3),
        ...          "cell_observed": torch.ones(2, 3), "cell_header_ids": torch.tensor([[0, 1, 2], [2, 1, 0]])}
        >>> out = net(batch)
        >>> out["logits"].shape, out["image_embedding"].shape
        (torch.Size([2, 2]), torch.Size([2, 8]))
    """

    def __init__(self, *, spatial_dims: int, in_channels: int, header_texts: Sequence[str], out_channels: int = 2,
                 image_encoder: str = "resnet50", image_encoder_args: Mapping[str, Any] | None = None,
                 max_columns: int = 64, table_args: Mapping[str, Any] | None = None, use_headers: bool = True,
                 text_encoder: str | TextEmbedder = DEFAULT_TEXT_MODEL,
                 text_encoder_args: Mapping[str, Any] | None = None, image_token_grid: int = 2,
                 fusion_dim: int = 512, fusion_blocks: int = 4, fusion_heads: int = 8, embed_dim: int = 128,
                 dropout: float = 0.1, pretraining: bool = False, linear_probe: bool = False) -> None:
        super().__init__()
        self.header_texts = check_header_texts(header_texts)
        if int(max_columns) < 1 or int(image_token_grid) < 1 or int(embed_dim) < 1 or int(out_channels) < 1:
            raise ValueError(f"CITab: max_columns, image_token_grid, embed_dim, out_channels must be >= 1, got "
                             f"{max_columns}, {image_token_grid}, {embed_dim}, {out_channels}")
        if int(fusion_dim) % int(fusion_heads):
            raise ValueError(f"CITab: fusion_heads ({fusion_heads}) must divide fusion_dim ({fusion_dim})")
        self.spatial_dims, self.max_columns = int(spatial_dims), int(max_columns)
        self.use_headers, self.pretraining, self.linear_probe = bool(use_headers), bool(pretraining), False
        self.image_encoder_id = _encoder_id(image_encoder, image_encoder_args)
        self.image_encoder = build_encoder(image_encoder, "image", "CITab", dict(image_encoder_args or {}),
                                           spatial_dims=spatial_dims, in_channels=in_channels)
        bank = self._header_bank(text_encoder, text_encoder_args)
        self.register_buffer("header_bank", bank, persistent=False)  # vocabulary-specific: never in checkpoints
        table_args = {"d_model": 512, "n_blocks": 4, "n_heads": 8, **dict(table_args or {})}
        self.table_encoder = SATEncoder(n_numerical=self.max_columns,
                                        header_embeddings=torch.zeros(self.max_columns, bank.shape[1]).tolist(),
                                        **table_args)
        image_dim, table_dim, fusion_dim = self.image_encoder.feature_dim, self.table_encoder.feature_dim, \
            int(fusion_dim)
        self.grid = int(image_token_grid)
        n_image_tokens = self.grid ** self.spatial_dims
        self.image_proj = nn.Linear(image_dim, fusion_dim)
        self.table_proj = nn.Linear(table_dim, fusion_dim)
        self.image_position = nn.Parameter(torch.randn(n_image_tokens, fusion_dim) * 0.02)
        self.modality = nn.Parameter(torch.randn(2, fusion_dim) * 0.02)
        self.cls = nn.Parameter(torch.randn(fusion_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(fusion_dim, int(fusion_heads), dim_feedforward=4 * fusion_dim,
                                           dropout=float(dropout), activation="gelu", batch_first=True,
                                           norm_first=True)
        self.fusion = nn.TransformerEncoder(layer, int(fusion_blocks), enable_nested_tensor=False)
        self.fusion_norm = nn.LayerNorm(fusion_dim)
        self.image_global = nn.Linear(image_dim, int(embed_dim))
        self.table_global = nn.Linear(table_dim, int(embed_dim))
        self.itm_head = nn.Linear(fusion_dim, 2)
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(fusion_dim, int(out_channels))
        self.pretrained_report: dict[str, Any] | None = None
        self.set_linear_probe(bool(linear_probe))

    # ------------------------------------------------------------------ construction helpers
    def _header_bank(self, text_encoder, text_encoder_args) -> torch.Tensor:
        if not self.use_headers:
            return text_identity_vectors(self.header_texts, 384)
        if isinstance(text_encoder, TextEmbedder):
            if text_encoder_args:
                raise ValueError("CITab: text_encoder_args only apply when text_encoder is a name or path")
            embedder = text_encoder
        else:
            embedder = create_text_embedder(text_encoder, **dict(text_encoder_args or {}))
        bank = torch.as_tensor(embedder.embed(self.header_texts), dtype=torch.float32)
        if not bool(torch.isfinite(bank).all()):
            raise ValueError("CITab: the text model gave NaN/inf header embeddings")
        return bank

    def set_linear_probe(self, enabled: bool) -> None:
        """Freeze (``True``) or unfreeze everything but the classifier."""
        self.linear_probe = bool(enabled)
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(not self.linear_probe or name.startswith(_HEAD))
        self.train(self.training)

    def train(self, mode: bool = True) -> CITab:
        super().train(mode)
        if self.linear_probe:
            for name, module in self.named_children():
                if name != "classifier":
                    module.eval()
        return self

    # ------------------------------------------------------------------ checkpoint identity
    def get_extra_state(self) -> dict[str, Any]:
        return {"format": "citab", "image_encoder": self.image_encoder_id, "header_texts": list(self.header_texts)}

    def set_extra_state(self, state: Any) -> None:
        if not isinstance(state, Mapping) or state.get("format") != "citab":
            raise PretrainedMismatchError("CITab: the checkpoint is not a CITab state (no CITab identity)")
        saved = str(state.get("image_encoder"))
        if saved != self.image_encoder_id:
            raise PretrainedMismatchError(f"CITab: the checkpoint was trained with image encoder {saved}, but this "
                                          f"network uses {self.image_encoder_id}; use the same image_encoder and "
                                          "image_encoder_args as in pretraining")
        known = set(state.get("header_texts") or [])
        unseen = [t for t in self.header_texts if t not in known]
        self.pretrained_report = {"image_encoder": saved, "unseen_headers": unseen}
        if unseen:
            logger.info("CITab: %d header text(s) never seen in pretraining (new columns/categories; embedded by the "
                        "text model, no new parameters): %s", len(unseen), "; ".join(unseen))

    def load_pretrained(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, list[str]]:
        """Initialise from a pretrained CITab state: everything but the classifier (and the unused SAT header
        buffer, whose size follows ``max_columns``). Raises :class:`PretrainedMismatchError` for another image
        encoder or a non-CITab state; returns ``{"loaded": [...], "new": [...], "unseen_headers": [...]}``.

        Example:
            >>> report = finetune_net.load_pretrained(pretrain_net.state_dict())   # doctest: +SKIP
        """
        if "_extra_state" not in state_dict:
            raise PretrainedMismatchError("CITab: the checkpoint is not a CITab state (no '_extra_state' entry)")
        self.set_extra_state(state_dict["_extra_state"])
        skip = ("_extra_state", "table_encoder.header_embeddings")
        chosen = {k: v for k, v in state_dict.items() if not k.startswith(_HEAD) and k not in skip}
        result = self.load_state_dict(chosen, strict=False)
        if result.unexpected_keys:
            raise PretrainedMismatchError(f"CITab: the checkpoint has parameters this network lacks: "
                                          f"{result.unexpected_keys[:8]}")
        new = [k for k in result.missing_keys if k not in skip]
        return {"loaded": sorted(chosen), "new": sorted(new),
                "unseen_headers": list((self.pretrained_report or {}).get("unseen_headers", []))}

    # ------------------------------------------------------------------ encoders
    def encode_image(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image tokens (B, grid ** dims, fusion_dim) and the pooled image features (B, image feature_dim)."""
        feature_map = self.image_encoder.forward_features(image)[-1]
        pooled = feature_map.flatten(2).mean(-1)
        pool = F.adaptive_avg_pool3d if self.spatial_dims == 3 else F.adaptive_avg_pool2d
        patches = pool(feature_map, self.grid).flatten(2).transpose(1, 2)
        return self.image_proj(patches) + self.image_position + self.modality[0], pooled

    def _cells(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        missing = [k for k in CELL_KEYS if batch.get(k) is None]
        if missing:
            raise KeyError(f"CITab: the batch has no {missing}: encode the table with EncodeCrossTabled and batch "
                           f"it with collate_cross_table; keys present: {sorted(map(str, batch))}")
        values = torch.as_tensor(batch["cell_values"]).float()
        observed = torch.as_tensor(batch["cell_observed"]) > 0.5
        ids = torch.as_tensor(batch["cell_header_ids"]).long()
        padding = batch.get("cell_padding")
        padding = torch.zeros_like(observed) if padding is None else torch.as_tensor(padding).bool()
        if values.ndim != 2 or not values.shape == observed.shape == ids.shape == padding.shape:
            raise ValueError(f"CITab: cell tensors must all be (B, n); got values {tuple(values.shape)}, observed "
                             f"{tuple(observed.shape)}, header ids {tuple(ids.shape)}, padding {tuple(padding.shape)}")
        n = values.shape[1]
        if n > self.max_columns:
            raise ValueError(f"CITab: a row has {n} cells but the network was built with max_columns="
                             f"{self.max_columns}; raise max_columns")
        real = ~padding
        if bool(((ids < 0) | (ids >= len(self.header_texts)))[real].any()):
            bad = int(ids[real & ((ids < 0) | (ids >= len(self.header_texts)))][0])
            raise ValueError(f"CITab: header id {bad} is outside the header vocabulary (size {len(self.header_texts)})")
        extra = self.max_columns - n
        values = F.pad(torch.where(real & observed, values, torch.zeros_like(values)), (0, extra))
        observed = F.pad(observed & real, (0, extra))
        padding = F.pad(padding, (0, extra), value=True)
        ids = F.pad(torch.where(real, ids, torch.zeros_like(ids)), (0, extra))
        return values, observed, ids, padding

    def encode_table(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Table tokens (B, 1 + max_columns, fusion_dim) (CLS first), their ignore mask (True = padding or missing)
        and the SAT CLS embedding (B, d_model)."""
        values, observed, ids, padding = self._cells(batch)
        headers = self.header_bank.to(values.device)[ids]
        # SAT._run gives the CLS embedding and the attribute tokens from one pass (forward/forward_features each
        # give only one of them)
        cls, states = self.table_encoder._run(values, observed.float(), None, None, headers, padding)
        tokens = torch.cat([cls.unsqueeze(1), states[-1]], dim=1)
        ignore = torch.cat([torch.zeros_like(padding[:, :1]), padding | ~observed], dim=1)
        return self.table_proj(tokens) + self.modality[1], ignore, cls

    # ------------------------------------------------------------------ fusion
    def fuse(self, image_tokens: torch.Tensor, table_tokens: torch.Tensor, table_ignore: torch.Tensor) -> torch.Tensor:
        """The fused class token (B, fusion_dim) of image tokens and table tokens (padding/missing masked)."""
        batch = image_tokens.shape[0]
        tokens = torch.cat([self.cls.expand(batch, 1, -1), image_tokens, table_tokens], dim=1)
        free = torch.zeros(batch, 1 + image_tokens.shape[1], dtype=torch.bool, device=tokens.device)
        mask = torch.cat([free, table_ignore], dim=1)
        return self.fusion_norm(self.fusion(tokens, src_key_padding_mask=mask)[:, 0])

    def match_logits(self, outputs: Mapping[str, torch.Tensor], image_index: torch.Tensor,
                     table_index: torch.Tensor) -> torch.Tensor:
        """Image-table matching logits (P, 2) (no match, match) of the pairs ``(image_index[p], table_index[p])``
        of a pretraining forward's ``outputs``."""
        fused = self.fuse(outputs["image_tokens"][image_index], outputs["table_tokens"][table_index],
                          outputs["table_ignore"][table_index])
        return self.itm_head(fused)

    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        image_tokens, image_pooled = self.encode_image(get_image(batch, "CITab"))
        table_tokens, table_ignore, table_cls = self.encode_table(batch)
        image_embedding = F.normalize(self.image_global(image_pooled), dim=-1)
        table_embedding = F.normalize(self.table_global(table_cls), dim=-1)
        out = {"image_embedding": image_embedding, "table_embedding": table_embedding}
        if self.pretraining:
            out.update(logits=image_embedding @ table_embedding.t(), image_tokens=image_tokens,
                       table_tokens=table_tokens, table_ignore=table_ignore)
            return out
        fused = self.fuse(image_tokens, table_tokens, table_ignore)
        out.update(logits=self.classifier(self.dropout(fused)), fused_embedding=fused)
        return out
