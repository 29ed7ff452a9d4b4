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
"""FT-Transformer and ResNet1D-CBAM table encoders: shapes, gradients, missing cells, column types, classifiers."""

from __future__ import annotations

import json

import pytest
import torch

from monai_tabular.networks import FusionClassifier, TableClassifier, create_encoder, get_encoder_kind, list_encoders
from monai_tabular.networks.blocks.cbam import CBAM1d, ChannelAttention1d, SpatialAttention1d
from monai_tabular.networks.encoders.ft_transformer import FeatureTokenizer, FTTransformer
from monai_tabular.networks.encoders.resnet1d_cbam import ResNet1DCBAM

torch.set_num_threads(1)

CARDS = [3, 5]
N_ATTR = 3 + len(CARDS)
SMALL = {"ft_transformer": {"d_token": 16, "n_heads": 4, "n_blocks": 2},
         "resnet1d_cbam": {"embedding_dim": 8, "channels": [8, 16], "reduction": 4, "cbam_kernel_size": 3}}
CLASSES = {"ft_transformer": FTTransformer, "resnet1d_cbam": ResNet1DCBAM}
NAMES = sorted(SMALL)


def _table(batch=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    numerical = torch.randn(batch, 3, generator=g)
    numerical_mask = (torch.rand(batch, 3, generator=g) > 0.3).float()
    numerical_mask[0], numerical_mask[1] = 0, 1  # every column has a missing and an observed cell
    numerical = numerical * numerical_mask  # the pipeline stores 0 at missing cells
    categorical = torch.stack([torch.randint(0, c, (batch,), generator=g) for c in CARDS], 1)
    categorical_mask = (torch.rand(batch, 2, generator=g) > 0.3).float()
    categorical_mask[0], categorical_mask[1] = 0, 1
    categorical = categorical * categorical_mask.long()
    return {"numerical": numerical, "numerical_mask": numerical_mask, "categorical": categorical,
            "categorical_mask": categorical_mask}


def _make(name, seed=0, **kwargs):
    torch.manual_seed(seed)
    return create_encoder(name, **({"n_numerical": 3, "cardinalities": CARDS} | SMALL[name] | kwargs))


def test_registry():
    assert {"ft_transformer", "resnet1d_cbam"} <= set(list_encoders("table"))
    for name in NAMES:
        assert get_encoder_kind(name) == "table" and isinstance(_make(name), CLASSES[name])
    assert FTTransformer(n_numerical=2).feature_dim == 64 and len(FTTransformer(n_numerical=2).blocks) == 3
    assert ResNet1DCBAM(n_numerical=2).stage_dims == [32, 64, 128]


@pytest.mark.parametrize("name", NAMES)
def test_shapes_gradients_determinism(name):
    enc = _make(name)
    table = _table()
    with torch.no_grad():  # same seed -> same weights and outputs; repeated calls agree; another seed differs
        first = enc.eval()(**table)
        torch.testing.assert_close(enc(**table), first, rtol=0, atol=0)
        torch.testing.assert_close(_make(name).eval()(**table), first, rtol=0, atol=0)
        assert not torch.allclose(_make(name, seed=1).eval()(**table), first)
    enc.train()
    features = enc.forward_features(**table)
    assert len(features) == len(enc.stage_dims)
    assert [tuple(f.shape) for f in features] == [(6, N_ATTR, d) for d in enc.stage_dims]
    out = enc(**table)
    assert tuple(out.shape) == (6, enc.feature_dim) and enc.feature_dim == enc.stage_dims[-1]
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    for pname, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_masked_cells_do_not_matter(name):
    enc = _make(name).eval()
    table = _table()
    num_missing, cat_missing = table["numerical_mask"] == 0, table["categorical_mask"] == 0
    with torch.no_grad():
        reference = enc(**table)
        ref_features = enc.forward_features(**table)
        for garbage in (123.0, -7.5, float("nan"), float("inf")):
            changed = dict(table, numerical=table["numerical"].masked_fill(num_missing, garbage),
                           categorical=table["categorical"].masked_fill(cat_missing, 99))  # even out of range
            torch.testing.assert_close(enc(**changed), reference, rtol=0, atol=0)
            for a, b in zip(enc.forward_features(**changed), ref_features):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
        # an observed cell does matter
        changed = dict(table, numerical=table["numerical"].masked_fill(~num_missing, 3.0))
        assert not torch.allclose(enc(**changed), reference)
    # NaN at masked cells does not leak into the gradients either
    enc.train()
    nan_table = dict(table, numerical=table["numerical"].masked_fill(num_missing, float("nan")))
    enc(**nan_table).sum().backward()
    for pname, p in enc.named_parameters():
        assert bool(torch.isfinite(p.grad).all()), f"non-finite gradient in {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_missing_is_not_zero_and_not_unknown(name):
    enc = _make(name).eval()
    one = {"numerical": torch.zeros(1, 3), "numerical_mask": torch.ones(1, 3),
           "categorical": torch.zeros(1, 2, dtype=torch.long), "categorical_mask": torch.ones(1, 2)}
    with torch.no_grad():
        observed = enc(**one)  # observed zeros and observed "unknown category" (index 0)
        assert not torch.allclose(enc(**dict(one, numerical_mask=torch.tensor([[0.0, 1, 1]]))), observed)
        assert not torch.allclose(enc(**dict(one, categorical_mask=torch.tensor([[1.0, 0]]))), observed)
        tok = enc.tokenizer  # the learned missing token is what a missing cell becomes
        tokens = tok(**dict(one, numerical_mask=torch.tensor([[0.0, 1, 1]]), categorical_mask=torch.tensor([[1.0, 0]])))
        torch.testing.assert_close(tokens[0, 0], tok.num_missing[0])
        torch.testing.assert_close(tokens[0, 4], tok.embedding.weight[tok._offsets[1] + CARDS[1]])
        torch.testing.assert_close(tokens[0, 1], tok.num_bias[1])  # observed 0 -> 0 * w + b


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_numerical,cards", [(0, CARDS), (3, [])])
def test_only_one_column_type(name, n_numerical, cards):
    enc = _make(name, n_numerical=n_numerical, cardinalities=cards).eval()
    table = _table()
    if not n_numerical:
        table.update(numerical=torch.zeros(6, 0), numerical_mask=None)
    else:
        table.update(categorical=torch.zeros(6, 0), categorical_mask=torch.zeros(6, 0))
    n_attr = n_numerical + len(cards)
    with torch.no_grad():
        assert tuple(enc(**table).shape) == (6, enc.feature_dim)
        present = {k: v for k, v in table.items() if v is not None and v.shape[1]}
        assert tuple(enc(**present).shape) == (6, enc.feature_dim)
        assert tuple(enc.forward_features(**present)[-1].shape) == (6, n_attr, enc.stage_dims[-1])
        single = _make(name, n_numerical=1, cardinalities=[]).eval()  # a one-attribute table
        assert tuple(single(numerical=torch.randn(2, 1)).shape) == (2, single.feature_dim)


@pytest.mark.parametrize("name", NAMES)
def test_input_and_constructor_errors(name):
    enc = _make(name)
    table = _table()
    with pytest.raises(ValueError, match=r"numerical of shape \(B=6, 3\), got \(6, 2\)"):
        enc(**dict(table, numerical=table["numerical"][:, :2]))
    with pytest.raises(ValueError, match="column 1 has cardinality 5"):
        enc(**dict(table, categorical=torch.tensor([[0, 5]] * 6), categorical_mask=torch.ones(6, 2)))
    with pytest.raises(TypeError, match="int64"):
        enc(**dict(table, categorical=table["categorical"].float()))
    cls = CLASSES[name]
    with pytest.raises(ValueError, match="at least one column"):
        cls(n_numerical=0, cardinalities=[])
    with pytest.raises(ValueError, match="cardinalities"):
        cls(n_numerical=1, cardinalities=[0])
    with pytest.raises(ValueError, match="dropout"):
        cls(n_numerical=1, dropout=1.0)
    with pytest.raises(ValueError, match="n_heads must divide d_token"):
        FTTransformer(n_numerical=1, d_token=10, n_heads=4)
    with pytest.raises(ValueError, match="channels"):
        ResNet1DCBAM(n_numerical=1, channels=[])


@pytest.mark.parametrize("name", NAMES)
def test_in_classifiers(name):
    table = _table()
    torch.manual_seed(0)
    net = TableClassifier(encoder=name, n_numerical=3, cardinalities=CARDS, out_channels=2,
                          encoder_args=SMALL[name])
    out = net(table)
    assert tuple(out["logits"].shape) == (6, 2) and tuple(out["table_embedding"].shape) == (6, net.encoder.feature_dim)
    out["logits"].sum().backward()
    fusion = FusionClassifier(image_encoder="resnet10", table_encoder=name, spatial_dims=2, in_channels=1,
                              n_numerical=3, cardinalities=CARDS, out_channels=3, hidden_dim=16,
                              image_encoder_args={"width_factor": 0.25}, table_encoder_args=SMALL[name]).eval()
    batch = table | {"image": torch.randn(6, 1, 32, 32), "table_present": torch.tensor([1.0, 1, 0, 1, 0, 1])}
    with torch.no_grad():
        out = fusion(batch)
        assert tuple(out["logits"].shape) == (6, 3)
        torch.testing.assert_close(out["table_embedding"][[2, 4]], fusion.missing_table.expand(2, -1))
        sub = {k: v[[0, 1, 3, 5]] for k, v in table.items()}  # the encoder ran on the present rows only
        torch.testing.assert_close(out["table_embedding"][[0, 1, 3, 5]], fusion.table_encoder(**sub))


def test_json_norm_config_and_instance_norm():
    args = json.loads('{"embedding_dim": 8, "channels": [8, 8], "norm": ["group", {"num_groups": 2}],'
                      ' "kernel_size": 5, "dropout": 0.0}')
    enc = create_encoder("resnet1d_cbam", n_numerical=3, cardinalities=CARDS, **args)
    assert isinstance(enc.blocks[0].body[1], torch.nn.GroupNorm) and enc.blocks[0].body[0].kernel_size == (5,)
    assert isinstance(enc.blocks[0].shortcut, torch.nn.Identity)
    table = _table()
    # group norm is per sample: a row's embedding does not depend on the rest of the batch, even in training
    torch.testing.assert_close(enc(**table)[:2], enc(**{k: v[:2] for k, v in table.items()}))


def test_feature_tokenizer_and_cbam():
    tok = FeatureTokenizer(n_numerical=2, cardinalities=[4], d_token=3)
    x = torch.tensor([[2.0, 0.0]])
    tokens = tok(x, None, torch.tensor([[1]]), None)
    torch.testing.assert_close(tokens[0, 0], 2.0 * tok.num_weight[0] + tok.num_bias[0])
    torch.testing.assert_close(tokens[0, 2], tok.embedding.weight[1])
    assert tok.embedding.num_embeddings == 5  # 4 categories + missing
    seq = torch.randn(2, 8, 3)  # fewer positions than the spatial kernel
    assert tuple(CBAM1d(8, reduction=4, kernel_size=7)(seq).shape) == (2, 8, 3)
    channel = ChannelAttention1d(8, reduction=4)
    ratio = channel(seq) / seq  # one weight per (sample, channel) in (0, 1), shared by all positions
    assert bool(((ratio > 0) & (ratio < 1)).all()) and torch.allclose(ratio, ratio[..., :1].expand_as(ratio))
    spatial = SpatialAttention1d(kernel_size=3)
    ratio = spatial(seq) / seq  # one weight per (sample, position), shared by all channels
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio))
    with pytest.raises(ValueError, match="odd"):
        SpatialAttention1d(kernel_size=4)
    with pytest.raises(ValueError, match=r"\(B, C, L\)"):
        CBAM1d(8)(torch.randn(2, 8))
