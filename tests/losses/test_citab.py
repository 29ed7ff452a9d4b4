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
"""CITab losses on hand-made embeddings: ITC (symmetric InfoNCE), hard-negative sampling, ITM."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from monai_tabular.losses.citab import CITabPretrainLoss, itc_loss, itm_loss, sample_hard_negatives


def _unit(rows):
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def test_itc_matches_the_definition_and_rewards_alignment():
    image = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    table = _unit([[1, 0.1, 0], [0, 1, 0.2], [0.1, 0, 1], [1, 1, 0.1]])
    logits = image @ table.t() / 0.1
    target = torch.arange(4)
    expected = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
    torch.testing.assert_close(itc_loss(image, table), expected)
    torch.testing.assert_close(itc_loss(image, table), itc_loss(table, image))  # symmetric
    shuffled = table[[1, 2, 3, 0]]
    assert itc_loss(image, table) < itc_loss(image, shuffled)
    # orthogonal perfect pairs at a low temperature: near zero; identical embeddings everywhere: log(B)
    eye = torch.eye(4)
    assert float(itc_loss(eye, eye, temperature=0.01)) < 1e-6
    same = torch.ones(4, 3)
    assert math.isclose(float(itc_loss(same, same)), math.log(4), rel_tol=1e-5)
    # the embeddings need not be normalised by the caller
    torch.testing.assert_close(itc_loss(3 * image, 0.5 * table), itc_loss(image, table))


def test_itc_bad_input():
    with pytest.raises(ValueError, match="at least 2 pairs"):
        itc_loss(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="both be"):
        itc_loss(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="temperature"):
        itc_loss(torch.ones(2, 3), torch.ones(2, 3), temperature=0)


def test_hard_negatives_never_match_and_follow_the_similarity():
    similarity = torch.tensor([[1.0, 0.9, 0.0, -0.5],
                               [0.2, 1.0, 0.1, 0.0],
                               [0.0, 0.3, 1.0, 0.3],
                               [0.5, 0.0, 0.0, 1.0]])
    generator = torch.Generator().manual_seed(0)
    draws = 4000
    counts_t = torch.zeros(4, 4)
    counts_i = torch.zeros(4, 4)
    for _ in range(draws // 4):
        for _ in range(4):
            t, i = sample_hard_negatives(similarity, temperature=0.1, generator=generator)
            counts_t[torch.arange(4), t] += 1
            counts_i[torch.arange(4), i] += 1
    assert counts_t.diagonal().sum() == 0 and counts_i.diagonal().sum() == 0
    eye = torch.eye(4, dtype=torch.bool)
    p_table = torch.softmax((similarity / 0.1).masked_fill(eye, float("-inf")), dim=1)
    p_image = torch.softmax((similarity.t() / 0.1).masked_fill(eye, float("-inf")), dim=1)
    torch.testing.assert_close(counts_t / draws, p_table, atol=0.04, rtol=0)
    torch.testing.assert_close(counts_i / draws, p_image, atol=0.04, rtol=0)
    with pytest.raises(ValueError, match="square"):
        sample_hard_negatives(torch.ones(3, 2))


def test_itm_loss_and_pretrain_loss_with_a_hand_made_matcher():
    assert float(itm_loss(torch.tensor([[0.0, 9.0], [9.0, 0.0]]), torch.tensor([1, 0]))) < 1e-3
    assert float(itm_loss(torch.tensor([[9.0, 0.0]]), torch.tensor([1]))) > 5
    with pytest.raises(ValueError, match=r"\(P, 2\)"):
        itm_loss(torch.zeros(3, 1), torch.zeros(3))

    calls = []

    def oracle(outputs, image_index, table_index):  # perfectly confident and right
        calls.append((image_index.clone(), table_index.clone()))
        match = (image_index == table_index).float()
        return torch.stack([1 - match, match], dim=1) * 20

    def contrarian(outputs, image_index, table_index):
        match = (image_index == table_index).float()
        return torch.stack([match, 1 - match], dim=1) * 20

    image = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    outputs = {"image_embedding": image, "table_embedding": image}
    terms = CITabPretrainLoss(matcher=oracle, seed=0)(outputs, {})
    assert sorted(terms) == ["itc", "itm"] and float(terms["itm"]) < 1e-6
    image_index, table_index = calls[0]
    assert len(image_index) == 9  # B positives, B image->negative table, B table->negative image
    assert torch.equal(image_index[:3], table_index[:3]) and bool((image_index[3:] != table_index[3:]).all())
    assert float(CITabPretrainLoss(matcher=contrarian, seed=0)(outputs, {})["itm"]) > 5
    with pytest.raises(KeyError, match="pretraining=True"):
        CITabPretrainLoss()({"logits": torch.zeros(2, 2)}, {})
