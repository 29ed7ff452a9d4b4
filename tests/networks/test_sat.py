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
"""``SATEncoder`` and ``PMoLin``: shapes, gradients, masking, permutation invariance, ablations, zero text-model
passes in training, registry."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.networks.blocks.pmolin import PMoLin
from monai_tabular.networks.encoders.sat import SATEncoder
from monai_tabular.networks.nets.table import TableClassifier
from monai_tabular.networks.registry import create_encoder, list_encoders
from monai_tabular.networks.text import HFTextEmbedder, create_text_embedder
from tests.networks.test_text import make_tiny_bert

torch.set_num_threads(1)

CARDS = [3, 5]
N_NUM = 3
TEXT_DIM = 6
COLUMN_TEXTS = ["age in years", "body mass index", "systolic pressure", "sex", "smoker"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("sat_tiny_bert"))


def _headers(n=N_NUM + len(CARDS), seed=0):
    return torch.randn(n, TEXT_DIM, generator=torch.Generator().manual_seed(seed))


def _table(batch=6, seed=0, n_num=N_NUM, cards=CARDS):
    g = torch.Generator().manual_seed(seed)
    numerical = torch.randn(batch, n_num, generator=g)
    numerical_mask = (torch.rand(batch, n_num, generator=g) > 0.3).float()
    numerical_mask[0], numerical_mask[1] = 0, 1  # one all-missing row, one complete row
    categorical = torch.stack([torch.randint(0, c, (batch,), generator=g) for c in cards], 1)
    categorical_mask = (torch.rand(batch, len(cards), generator=g) > 0.3).float()
    categorical_mask[0], categorical_mask[1] = 0, 1
    return {"numerical": numerical * numerical_mask, "numerical_mask": numerical_mask,
            "categorical": categorical * categorical_mask.long(), "categorical_mask": categorical_mask}


def _sat(**kwargs):
    torch.manual_seed(0)
    args = dict(n_numerical=N_NUM, cardinalities=CARDS, header_embeddings=_headers().tolist(), d_model=16,
                n_blocks=2, n_heads=2, n_prototypes=3, dropout=0.0) | kwargs
    return SATEncoder(**args)


# ---------------------------------------------------------------------------------------------------- PMoLin
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_pmolin_gates_and_shape(similarity):
    torch.manual_seed(0)
    layer = PMoLin(in_features=8, out_features=4, n_experts=5, similarity=similarity, activation="gelu")
    x = torch.randn(3, 7, 8)
    gates = layer.gates(x)
    assert gates.shape == (3, 7, 5) and bool((gates >= 0).all())
    torch.testing.assert_close(gates.sum(-1), torch.ones(3, 7))
    out = layer(x)
    assert out.shape == (3, 7, 4)
    # the vectorised mixture equals the per-expert definition
    experts = torch.stack([x @ layer.weight[e] + layer.bias[e] for e in range(5)], dim=-2)  # (3, 7, 5, 4)
    torch.testing.assert_close(out, torch.nn.functional.gelu((gates.unsqueeze(-1) * experts).sum(-2)))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())


def test_pmolin_single_expert_is_linear_and_errors():
    layer = PMoLin(in_features=4, n_experts=1, bias=False)
    x = torch.randn(5, 4)
    torch.testing.assert_close(layer(x), x @ layer.weight[0])
    for bad in (dict(n_experts=0), dict(similarity="l2"), dict(temperature=0.0), dict(activation="swish"),
                dict(dropout=1.0)):
        with pytest.raises(ValueError):
            PMoLin(in_features=4, **bad)
    with pytest.raises(ValueError, match="size 4"):
        layer(torch.randn(2, 3))


# ------------------------------------------------------------------------------------------------ SATEncoder
@pytest.mark.parametrize("ffn", ["pmolin", "mlp"])
def test_shapes_and_gradients_reach_every_parameter(ffn):
    enc = _sat(ffn=ffn, dropout=0.1)
    assert enc.feature_dim == 16 and enc.stage_dims == [16, 16]
    table = _table()
    features = enc.forward_features(**table)
    assert [tuple(f.shape) for f in features] == [(6, 5, 16), (6, 5, 16)]
    out = enc(**table)
    assert out.shape == (6, 16)
    g = torch.Generator().manual_seed(1)
    loss = (out * torch.randn(out.shape, generator=g)).sum() + (features[-1] * torch.randn(6, 5, 16, generator=g)).sum()
    loss.backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    assert enc.header_embeddings.shape == (5, TEXT_DIM) and not enc.header_embeddings.requires_grad
    assert "header_embeddings" in enc.state_dict()


def test_masked_cells_do_not_matter():
    enc = _sat().eval()
    table = _table()
    num_missing, cat_missing = table["numerical_mask"] == 0, table["categorical_mask"] == 0
    with torch.no_grad():
        reference, ref_tokens = enc(**table), enc.forward_features(**table)[-1]
        for garbage in (123.0, -7.5, float("nan")):
            changed = dict(table, numerical=table["numerical"].masked_fill(num_missing, garbage),
                           categorical=table["categorical"].masked_fill(cat_missing, 99))  # even out of range
            torch.testing.assert_close(enc(**changed), reference, rtol=0, atol=0)
            torch.testing.assert_close(enc.forward_features(**changed)[-1], ref_tokens, rtol=0, atol=0)
        assert bool(torch.isfinite(reference).all())  # row 0 has every cell missing
        changed = dict(table, numerical=table["numerical"].masked_fill(~num_missing, 3.0))
        assert not torch.allclose(enc(**changed), reference)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-8), (torch.float32, 1e-4)])
def test_cls_invariant_to_permuting_columns_with_their_headers(dtype, tol):
    enc = _sat(n_numerical=5, cardinalities=[4], header_embeddings=_headers(6).tolist()).to(dtype).eval()
    table = {k: v.to(dtype) if v.is_floating_point() else v for k, v in _table(8, n_num=5, cards=[4]).items()}
    perm = torch.tensor([3, 0, 4, 2, 1])
    full_perm = torch.cat([perm, torch.tensor([5])])  # the categorical column stays in place
    permuted = dict(table, numerical=table["numerical"][:, perm], numerical_mask=table["numerical_mask"][:, perm])
    headers = enc.header_embeddings
    with torch.no_grad():
        reference, tokens = enc(**table), enc.forward_features(**table)[-1]
        # per-batch header embeddings, permuted together with the columns
        batch_headers = headers[full_perm].expand(8, -1, -1)
        torch.testing.assert_close(enc(**permuted, header_embeddings=batch_headers), reference, rtol=tol, atol=tol)
        torch.testing.assert_close(enc.forward_features(**permuted, header_embeddings=batch_headers)[-1],
                                   tokens[:, full_perm], rtol=tol, atol=tol)
        # the same through the stored buffer of a second encoder
        other = _sat(n_numerical=5, cardinalities=[4], header_embeddings=headers[full_perm].tolist()).to(dtype).eval()
        other.load_state_dict(dict(enc.state_dict(), header_embeddings=headers[full_perm]))
        torch.testing.assert_close(other(**permuted), reference, rtol=tol, atol=tol)
        # permuting the values alone (headers kept) does change the output
        assert not torch.allclose(enc(**permuted), reference, atol=1e-3)


def test_attribute_padding_and_batch_headers():
    enc = _sat().eval()
    table = _table()
    pad = torch.zeros(6, 5, dtype=torch.bool)
    pad[:, 2] = True  # a column this table does not have
    as_missing = dict(table, numerical_mask=table["numerical_mask"].clone())
    as_missing["numerical_mask"][:, 2] = 0
    with torch.no_grad():
        torch.testing.assert_close(enc(**table, attribute_padding_mask=pad), enc(**as_missing), rtol=0, atol=0)
        tokens = enc.forward_features(**table, attribute_padding_mask=pad.float())[-1]
        assert bool((tokens[:, 2] == 0).all()) and bool((tokens[:, 0] != 0).any())
        same = enc(**table, header_embeddings=enc.header_embeddings.expand(6, -1, -1))
        torch.testing.assert_close(same, enc(**table))
    with pytest.raises(ValueError, match="header_embeddings must have shape"):
        enc(**table, header_embeddings=torch.zeros(6, 5, TEXT_DIM + 1))
    with pytest.raises(ValueError, match="attribute_padding_mask"):
        enc(**table, attribute_padding_mask=pad[:, :4])


def test_ablation_switches():
    table = _table()
    mlp = _sat(ffn="mlp")
    assert not any(isinstance(m, PMoLin) for m in mlp.modules())
    assert sum(isinstance(m, PMoLin) for m in _sat().modules()) == 2
    plain = _sat(use_headers=False, header_embeddings=None)  # no texts, no embeddings needed
    assert plain.header_proj is None and plain.header_embeddings is None
    assert plain.column_embedding.shape == (5, 16)
    assert plain(**table).shape == (6, 16) and mlp(**table).shape == (6, 16)
    with pytest.raises(ValueError, match="use_headers=False"):
        plain(**table, header_embeddings=torch.zeros(6, 5, TEXT_DIM))
    with pytest.raises(ValueError, match="ffn"):
        _sat(ffn="moe")


def test_zero_text_model_passes_while_training(tiny_bert, tmp_path, monkeypatch):
    calls = []
    original = HFTextEmbedder._compute
    monkeypatch.setattr(HFTextEmbedder, "_compute", lambda self, texts: calls.append(len(texts)) or
                        original(self, texts))
    embedder = create_text_embedder(tiny_bert, cache_dir=tmp_path)
    torch.manual_seed(0)
    enc = SATEncoder(n_numerical=N_NUM, cardinalities=CARDS, column_texts=COLUMN_TEXTS, text_encoder=embedder,
                     d_model=16, n_blocks=1, n_heads=2)
    assert embedder.forward_calls == 1 and calls == [5]
    torch.testing.assert_close(enc.header_embeddings, embedder.embed(COLUMN_TEXTS))
    head = torch.nn.Linear(16, 2)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-2)
    for step in range(3):
        table = _table(seed=step)
        loss = torch.nn.functional.cross_entropy(head(enc(**table)), torch.arange(6) % 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert embedder.forward_calls == 1 and len(calls) == 1
    # a second encoder on the same texts (by path, new embedder) reads the disk cache: no pass either
    again = SATEncoder(n_numerical=N_NUM, cardinalities=CARDS, column_texts=COLUMN_TEXTS, text_encoder=str(tiny_bert),
                       text_encoder_args={"cache_dir": str(tmp_path)}, d_model=16, n_blocks=1, n_heads=2)
    assert len(calls) == 1 and again.text_model_id == embedder.model_id


def test_registry_and_table_classifier(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setenv("MONAI_TABULAR_CACHE", str(tmp_path))
    assert "sat" in list_encoders("table")
    enc = create_encoder("sat", n_numerical=N_NUM, cardinalities=CARDS, column_texts=COLUMN_TEXTS,
                         text_encoder=str(tiny_bert), d_model=16, n_blocks=1, n_heads=2)
    assert isinstance(enc, SATEncoder) and enc.header_embeddings.shape == (5, 16) and enc.text_dim == 16
    assert list((tmp_path / "text_embeddings").rglob("*.pt"))  # the default disk cache, under the env folder
    net = TableClassifier(encoder="sat", n_numerical=N_NUM, cardinalities=CARDS, out_channels=2,
                          encoder_args={"column_texts": COLUMN_TEXTS, "text_encoder": str(tiny_bert),
                                        "d_model": 16, "n_blocks": 1, "n_heads": 2})
    assert net(_table())["logits"].shape == (6, 2)


def test_constructor_and_input_errors(tmp_path):
    with pytest.raises(ValueError, match="needs column_texts"):
        _sat(header_embeddings=None)
    with pytest.raises(ValueError, match="not both"):
        _sat(column_texts=COLUMN_TEXTS)
    with pytest.raises(ValueError, match="5 strings"):
        _sat(header_embeddings=None, column_texts=COLUMN_TEXTS[:4])
    with pytest.raises(ValueError, match=r"shape \(5, text_dim\)"):
        _sat(header_embeddings=_headers(4).tolist())
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        _sat(header_embeddings=None, column_texts=COLUMN_TEXTS, text_encoder=str(tmp_path / "missing"))
    for bad in (dict(d_model=15), dict(n_numerical=0, cardinalities=[]), dict(cardinalities=[0, 2]),
                dict(dropout=1.0), dict(n_prototypes=0)):
        with pytest.raises(ValueError):
            _sat(**bad)
    enc = _sat()
    table = _table()
    with pytest.raises(ValueError, match="column 1 has cardinality 5"):
        enc(**dict(table, categorical=torch.tensor([[0, 5]] * 6), categorical_mask=torch.ones(6, 2)))
    with pytest.raises(ValueError, match=r"numerical of shape \(B=6, 3\)"):
        enc(**dict(table, numerical=table["numerical"][:, :2]))
