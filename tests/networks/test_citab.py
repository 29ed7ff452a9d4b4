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
"""``CITab``: shapes, permutation and padding invariance of the table embedding, cached headers (no text-model
pass per step), pretrained loading (unseen headers, another image encoder refused), bad headers, linear probe."""

from __future__ import annotations

import logging

import pytest
import torch

from monai_tabular.engines.citab import load_citab_pretrained
from monai_tabular.handlers.checkpoint import CheckpointLoadError
from monai_tabular.losses.citab import CITabPretrainLoss
from monai_tabular.networks.citab import CITab, PretrainedMismatchError, text_identity_vectors

HEADERS = ["age (years)", "body mass index", "sex: F", "sex: M", "smoking status: yes", "site: A"]


class CountingEmbedder:
    """A ``TextEmbedder`` with deterministic vectors that counts its forward passes."""

    model_id, dim = "counting-test-embedder", 12

    def __init__(self) -> None:
        self.forward_calls = 0

    def embed(self, texts):
        self.forward_calls += 1
        return text_identity_vectors(list(texts), self.dim)


def _net(headers=HEADERS, encoder="resnet10", embedder=None, **kwargs):
    torch.manual_seed(0)
    args = dict(spatial_dims=2, in_channels=1, header_texts=headers, out_channels=3, image_encoder=encoder,
                image_encoder_args={"width_factor": 0.125}, max_columns=8,
                table_args={"d_model": 16, "n_blocks": 2, "n_heads": 2, "n_prototypes": 3, "dropout": 0.0},
                text_encoder=embedder or CountingEmbedder(), fusion_dim=16, fusion_blocks=2, fusion_heads=2,
                embed_dim=8, dropout=0.0) | kwargs
    return CITab(**args)


def _batch(batch=4, n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    observed = (torch.rand(batch, n, generator=g) > 0.2).float()
    return {"image": torch.randn(batch, 1, 32, 32, generator=g),
            "cell_values": torch.randn(batch, n, generator=g) * observed, "cell_observed": observed,
            "cell_header_ids": torch.stack([torch.randperm(len(HEADERS), generator=g)[:n] for _ in range(batch)])}


def test_outputs_and_shapes():
    net = _net().eval()
    out = net(_batch())
    assert out["logits"].shape == (4, 3) and out["fused_embedding"].shape == (4, 16)
    for key in ("image_embedding", "table_embedding"):
        assert out[key].shape == (4, 8)
        torch.testing.assert_close(out[key].norm(dim=-1), torch.ones(4))
    pre = _net(pretraining=True).eval()(_batch())
    assert pre["logits"].shape == (4, 4)  # image-table similarities
    assert pre["image_tokens"].shape == (4, 4, 16) and pre["table_tokens"].shape == (4, 1 + 8, 16)


def test_table_embedding_is_invariant_to_column_order():
    net = _net().eval()
    batch = _batch()
    permuted = dict(batch)
    order = torch.tensor([3, 0, 4, 2, 1])
    for key in ("cell_values", "cell_observed", "cell_header_ids"):
        permuted[key] = batch[key][:, order]
    with torch.no_grad():
        a, b = net(batch), net(permuted)
    torch.testing.assert_close(a["table_embedding"], b["table_embedding"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(a["logits"], b["logits"], atol=1e-5, rtol=1e-4)
    # the order does matter when the values stay put but the headers move: the header is what names a value
    swapped = dict(batch, cell_header_ids=batch["cell_header_ids"][:, order])
    with torch.no_grad():
        c = net(swapped)
    assert not torch.allclose(a["table_embedding"], c["table_embedding"], atol=1e-4)


def test_padding_and_missing_cells_do_not_change_the_embedding():
    net = _net().eval()
    batch = _batch(n=3)
    padded = dict(batch)
    padded["cell_values"] = torch.cat([batch["cell_values"], torch.full((4, 2), 7.0)], 1)  # garbage in padding
    padded["cell_observed"] = torch.cat([batch["cell_observed"], torch.ones(4, 2)], 1)
    padded["cell_header_ids"] = torch.cat([batch["cell_header_ids"], torch.full((4, 2), 99)], 1)  # even bad ids
    padded["cell_padding"] = torch.tensor([[False] * 3 + [True] * 2] * 4)
    missing = dict(batch, cell_values=torch.where(batch["cell_observed"] > 0, batch["cell_values"],
                                                  torch.tensor(float("nan"))))
    with torch.no_grad():
        ref, pad, nan = net(batch), net(padded), net(missing)
    torch.testing.assert_close(ref["table_embedding"], pad["table_embedding"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ref["logits"], pad["logits"], atol=1e-5, rtol=1e-4)
    assert torch.isfinite(nan["logits"]).all()
    torch.testing.assert_close(ref["logits"], nan["logits"])


def test_headers_are_embedded_once_and_never_during_training():
    embedder = CountingEmbedder()
    net = _net(embedder=embedder, pretraining=True)
    assert embedder.forward_calls == 1
    loss = CITabPretrainLoss(matcher=net.match_logits, seed=0)
    for _ in range(2):
        terms = loss(net(_batch()), {})
        sum(terms.values()).backward()
    assert embedder.forward_calls == 1
    grads = {name.split(".")[0] for name, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert {"image_encoder", "table_encoder", "fusion", "itm_head", "image_global", "table_global"} <= grads


def test_no_header_ablation_uses_no_text_model():
    class Refusing(CountingEmbedder):
        def embed(self, texts):
            raise AssertionError("the no-header ablation must not embed header texts")

    net = _net(embedder=Refusing(), use_headers=False).eval()
    bank = net.header_bank
    torch.testing.assert_close(bank, text_identity_vectors(HEADERS, bank.shape[1]))
    assert net(_batch())["logits"].shape == (4, 3)


@pytest.mark.parametrize("headers, message", [(["age", ""], "header text 1 is empty"),
                                              (["age", "   "], "header text 1 is empty"),
                                              (["age", "sex", "age"], "'age' is duplicated")])
def test_empty_or_duplicated_header_is_refused(headers, message):
    with pytest.raises(ValueError, match=message):
        _net(headers=headers)


def test_pretrained_state_loads_into_new_columns_and_logs_them(caplog):
    pretrained = _net(headers=HEADERS[:4], pretraining=True)
    finetune = _net(headers=HEADERS[:2] + ["waist circumference (cm)", "sex: F"])
    before = {k: v.clone() for k, v in finetune.state_dict().items() if k.startswith("classifier")}
    with caplog.at_level(logging.INFO, logger="monai_tabular.networks.citab"):
        report = finetune.load_pretrained(pretrained.state_dict())
    assert report["unseen_headers"] == ["waist circumference (cm)"]
    assert "waist circumference (cm)" in caplog.text
    assert report["new"] == ["classifier.bias", "classifier.weight"]  # unseen columns need no new parameters
    torch.testing.assert_close(finetune.table_encoder.header_proj[0].weight,
                               pretrained.table_encoder.header_proj[0].weight)
    for key, value in before.items():
        torch.testing.assert_close(finetune.state_dict()[key], value)


def test_checkpoint_of_another_image_encoder_is_refused(tmp_path):
    other = _net(encoder="resnet18", pretraining=True)
    path = tmp_path / "model.pt"
    torch.save({"network": other.state_dict()}, path)
    net = _net()
    both = r"resnet18\(width_factor=0.125\).*resnet10\(width_factor=0.125\)"
    with pytest.raises(PretrainedMismatchError, match=both):
        net.load_pretrained(other.state_dict())
    with pytest.raises(CheckpointLoadError, match="resnet18.*resnet10"):
        load_citab_pretrained(net, path)
    torch.save({"network": {"weight": torch.zeros(2)}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointLoadError, match="not a CITab state"):
        load_citab_pretrained(net, tmp_path / "foreign.pt")


def test_linear_probe_trains_only_the_classifier():
    net = _net(linear_probe=True)
    trainable = sorted(n for n, p in net.named_parameters() if p.requires_grad)
    assert trainable == ["classifier.bias", "classifier.weight"]
    net.train()
    assert net.training and not net.image_encoder.training and not net.fusion.training
    frozen = {k: v.clone() for k, v in net.state_dict().items() if not k.startswith("classifier") and
              isinstance(v, torch.Tensor)}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    net(_batch())["logits"].sum().backward()
    optimizer.step()
    for key, value in frozen.items():  # batch-norm statistics included
        torch.testing.assert_close(net.state_dict()[key], value)


def test_bad_cells_are_clear_errors():
    net = _net().eval()
    with pytest.raises(KeyError, match="EncodeCrossTabled"):
        net({"image": torch.zeros(2, 1, 32, 32)})
    with pytest.raises(ValueError, match="max_columns=8"):
        net(_batch(n=9) | {"cell_header_ids": torch.zeros(4, 9, dtype=torch.long)})
    with pytest.raises(ValueError, match="header id 6 is outside"):
        net(_batch() | {"cell_header_ids": torch.full((4, 5), 6)})
