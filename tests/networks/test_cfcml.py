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
"""CFCMLNet: MG-CIE token shapes, ablation variants, cached text, prototypes, unseen and missing attributes."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch.utils.data import default_collate

from monai_tabular.data import TableSchema
from monai_tabular.networks.cfcml import CFCMLNet, CrossModalBlock, TokenAdapter
from monai_tabular.transforms import AttributeSentencesd
from tests.networks.test_text import make_tiny_bert

SIZE = [32, 32]
ENCODER_ARGS = {"base_channels": 4, "d_state": 4}
SMALL = {"d_model": 16, "n_tokens": 4, "fusion_tokens": 3, "n_heads": 2}


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return str(make_tiny_bert(tmp_path_factory.mktemp("tiny_bert")))


def make_net(bert, **kwargs):
    torch.manual_seed(0)
    args = dict(spatial_dims=2, in_channels=1, out_channels=2, n_attributes=3, image_size=SIZE,
                image_encoder="nnmamba", image_encoder_args=ENCODER_ARGS, text_model=bert, text_cache_dir=False,
                **SMALL)
    return CFCMLNet(**{**args, **kwargs})


def make_batch(size=4, **extra):
    torch.manual_seed(1)
    sentences = [[f"The age is {40 + i}." for i in range(size)],
                 [("The sex is male." if i % 2 else "The sex is female.") for i in range(size)],
                 ["The site is unknown."] * size]
    return {"image": torch.randn(size, 1, *SIZE), "sentences": sentences,
            "label": torch.tensor([i % 2 for i in range(size)]), **extra}


def test_mgcie_token_shapes(bert):
    net = make_net(bert)
    out = net(make_batch())
    levels, k, d = 4, SMALL["n_tokens"], SMALL["d_model"]
    assert net.stage_tokens == [(32 // 2 ** (g + 2)) ** 2 for g in range(4)]  # strides 4, 8, 16, 32
    assert out["image_tokens"].shape == (4, levels * k, d)
    assert out["table_tokens"].shape == (4, levels * k, d)
    assert out["fused_tokens"].shape == (4, SMALL["fusion_tokens"], d)
    assert out["logits"].shape == (4, 2)
    assert out["image_embedding"].shape == out["table_embedding"].shape == (4, d)
    assert [a.n_in for a in net.image_adapters] == [64, 16, 4, 1]
    assert all(a.n_in == 3 and a.n_out == k for a in net.table_adapters)


def test_token_adapter_and_cross_attention():
    assert TokenAdapter(n_in=5, n_out=2)(torch.zeros(3, 5, 7)).shape == (3, 2, 7)
    with pytest.raises(ValueError, match=r"\(B, 5, D\)"):
        TokenAdapter(n_in=5, n_out=2)(torch.zeros(3, 4, 7))
    torch.manual_seed(0)
    block = CrossModalBlock(d_model=8, n_heads=2).eval()
    image, table = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    image_a, table_a = block(image, table)
    image_b, table_b = block(image, torch.randn(2, 4, 8))
    assert not torch.allclose(image_a, image_b)  # image tokens are enhanced by the table
    image_c, table_c = block(torch.randn(2, 4, 8), table)
    assert not torch.allclose(table_a, table_c)  # and table tokens by the image


@pytest.mark.parametrize("variant", ["full", "no_mgcie", "concat", "image_only", "table_only"])
def test_variants_train(bert, variant):
    net = make_net(bert, variant=variant)
    batch = make_batch()
    if variant == "image_only":
        del batch["sentences"]
    out = net(batch)
    out["logits"].sum().backward()
    trained = [n for n, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert any(n.startswith("head") for n in trained)
    assert ("image_embedding" in out) == (variant != "table_only")
    assert ("table_embedding" in out) == (variant != "image_only")
    assert hasattr(net, "interactions") == (variant == "full")
    if variant != "image_only":
        assert any(n.startswith("text_projection") for n in trained)
    if variant == "image_only":
        with pytest.raises(ValueError, match="no table branch"):
            net.mode = "table_only"


def test_text_encoder_runs_once_per_distinct_sentence(bert):
    net = make_net(bert)
    batch = make_batch()
    net(batch)
    calls = net.text_embedder.forward_calls
    assert calls >= 1
    net(batch)
    net.eval()
    net(make_batch(size=2))
    assert net.text_embedder.forward_calls == calls


def test_prototypes_are_running_class_means_in_the_state_dict(bert):
    net = make_net(bert, prototype_momentum=0.5)
    assert int(net.prototype_counts.sum()) == 0
    net.train()
    out = net(make_batch())
    first = out["image_prototypes"].clone()
    image = torch.nn.functional.normalize(out["image_embedding"].detach(), dim=-1)
    assert torch.allclose(first[0], image[[0, 2]].mean(0), atol=1e-5)
    assert net.prototype_counts.tolist() == [2, 2]
    out = net(make_batch())
    image = torch.nn.functional.normalize(out["image_embedding"].detach(), dim=-1)
    assert torch.allclose(net.image_prototypes[1], 0.5 * first[1] + 0.5 * image[[1, 3]].mean(0), atol=1e-5)
    state = net.state_dict()
    assert {"image_prototypes", "table_prototypes", "prototype_counts"} <= set(state)
    again = make_net(bert, prototype_momentum=0.5)
    again.load_state_dict(state)
    assert torch.equal(again.table_prototypes, net.table_prototypes)
    net.eval()
    before = net.image_prototypes.clone()
    net(make_batch())
    assert torch.equal(before, net.image_prototypes)  # evaluation never moves the prototypes


def _schema():
    frame = pd.DataFrame({"subject_id": ["a", "b", "c", "d"], "age": ["40", "50", "60", "70"],
                          "sex": ["male", "female", "male", "female"], "site": ["A", "B", "A", "B"],
                          "label": ["x", "y", "x", "y"]})
    spec = {"subject_id": "subject_id", "label": "label", "numerical": ["age"], "categorical": ["sex", "site"]}
    return TableSchema.from_table(frame, spec).fit(frame)


def test_unseen_value_and_all_missing_row_still_predict(bert):
    schema = _schema()
    sentences = AttributeSentencesd(schema=schema)
    rows = [{"age": 45.0, "sex": "intersex", "site": "C"},   # values never seen in training
            {"age": 45.0, "sex": None, "site": None},         # missing: its own "unknown" sentence
            {"age": None, "sex": None, "site": None}]         # an empty row
    rendered = [sentences({"table": row})["sentences"] for row in rows]
    assert "intersex" in rendered[0][1] and "unknown" in rendered[1][1]
    net = make_net(bert).eval()
    batch = default_collate([{"image": torch.randn(1, *SIZE), "sentences": s} for s in rendered])
    with torch.no_grad():
        logits = net(batch)["logits"]
    assert torch.isfinite(logits).all()
    assert not torch.allclose(logits[0], logits[1])  # the unseen value is information, not "unknown"


def test_modes_and_bad_inputs(bert):
    net = make_net(bert).eval()
    batch = make_batch()
    with torch.no_grad():
        net.mode = "image_only"
        image_only = net({"image": batch["image"]})["logits"]
        net.mode = "table_only"
        table_only = net({"sentences": batch["sentences"]})["logits"]
    assert image_only.shape == table_only.shape == (4, 2)
    net.mode = "both"
    with pytest.raises(ValueError, match=r"built for images of size \[32, 32\]"):
        net({**batch, "image": torch.zeros(4, 1, 64, 64)})
    with pytest.raises(ValueError, match="3 attribute sentence lists"):
        net({**batch, "sentences": batch["sentences"][:2]})
    with pytest.raises(KeyError, match="AttributeSentencesd"):
        net({"image": batch["image"]})
    with pytest.raises(ValueError, match="variant"):
        make_net(bert, variant="late")
    with pytest.raises(ValueError, match="out_channels must be >= 2"):
        make_net(bert, out_channels=1)


def test_two_image_columns_shared_or_separate_encoders(bert):
    shared = make_net(bert, image_keys=["image", "clinical"])
    separate = make_net(bert, image_keys=["image", "clinical"], shared_image_encoder=False)
    assert len(shared.image_encoders) == 1 and len(separate.image_encoders) == 2
    assert shared.stage_tokens == [2 * n for n in make_net(bert).stage_tokens]
    batch = make_batch(clinical=torch.randn(4, 1, *SIZE))
    for net in (shared, separate):
        assert net(batch)["logits"].shape == (4, 2)
    with pytest.raises(KeyError, match="no image 'clinical'"):
        shared(make_batch())


@pytest.mark.parametrize("variant", ["full", "concat"])
def test_modality_dropout_trains_the_missing_modality_tokens(bert, variant):
    net = make_net(bert, variant=variant, modality_dropout=0.99).train()
    torch.manual_seed(3)
    net(make_batch(size=8))["logits"].sum().backward()
    missing = net.missing_image_tokens if variant == "full" else net.missing_image_embedding
    assert missing.grad is not None and missing.grad.abs().sum() > 0
    assert net.missing_table_tokens.grad is not None and net.missing_table_tokens.grad.abs().sum() > 0
    plain = make_net(bert, variant=variant).train()
    plain(make_batch(size=8))["logits"].sum().backward()
    assert plain.missing_table_tokens.grad is None  # without dropout (mode "both") they are not used
    with pytest.raises(ValueError, match="modality_dropout"):
        make_net(bert, modality_dropout=1.0)


def test_cache_switch_spelled_on_the_command_line_is_not_a_folder(bert, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = make_net(bert, text_cache_dir="false")
    net(make_batch())
    assert net.text_embedder.cache.folder is None and not (tmp_path / "false").exists()
