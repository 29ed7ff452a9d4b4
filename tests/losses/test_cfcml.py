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
"""CCRM terms on hand-made features: separated classes and matched pairs score lower than shuffled ones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from monai_tabular.engines import combine_loss_terms
from monai_tabular.engines.cfcml import train_sampler
from monai_tabular.losses.cfcml import (CCRM_TERMS, DEFAULT_CCRM_WEIGHTS, CFCMLLoss, ccrm_logits, ccrm_terms,
                                        prototype_contrastive_loss, sample_contrastive_loss)


def separated_features(n_per_class: int = 6, dim: int = 8, noise: float = 0.05):
    """Two classes around orthogonal centres; table features are noisy copies of the image features."""
    generator = torch.Generator().manual_seed(0)
    centres = torch.eye(dim)[:2]
    labels = torch.arange(2).repeat_interleave(n_per_class)
    image = centres[labels] + noise * torch.randn(len(labels), dim, generator=generator)
    table = image + noise * torch.randn(len(labels), dim, generator=generator)
    prototypes = lambda x: torch.stack([F.normalize(x[labels == c], dim=-1).mean(0) for c in range(2)])  # noqa: E731
    return image, table, labels, prototypes(image), prototypes(table)


def test_similarity_is_exp_of_shifted_cosine_over_tau():
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 2.0], [1.0, 0.0]])
    logits = ccrm_logits(a, b, temperature=0.07)
    assert torch.allclose(logits.exp(), torch.tensor([[math.exp(1 / 0.07), math.exp(2 / 0.07)]]), rtol=1e-4)


def test_separated_classes_score_lower_than_shuffled_labels():
    image, table, labels, image_protos, table_protos = separated_features()
    good = ccrm_terms(image, table, labels, image_protos, table_protos)
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]
    assert not torch.equal(shuffled, labels)
    bad = ccrm_terms(image, table, shuffled, image_protos, table_protos)
    assert good["ccrm_unimodal_proto"] < bad["ccrm_unimodal_proto"]
    assert good["ccrm_crossmodal_proto"] < bad["ccrm_crossmodal_proto"]
    assert good["ccrm_unimodal_proto"] < 0.01  # prototype of its own class wins by far
    flipped = ccrm_terms(image, table, 1 - labels, image_protos, table_protos)
    assert flipped["ccrm_crossmodal_proto"] > 1.0


def test_matched_pairs_score_lower_than_shuffled_pairs():
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(8, 16, generator=generator)
    table = image + 0.05 * torch.randn(8, 16, generator=generator)
    matched = sample_contrastive_loss(image, table)
    shuffled = sample_contrastive_loss(image, table.roll(3, dims=0))
    assert matched < 0.1 < shuffled
    with pytest.raises(ValueError, match="same shape"):
        sample_contrastive_loss(image, table[:4])


def test_prototype_term_skips_classes_without_prototype_and_has_gradients():
    features = torch.randn(4, 3, requires_grad=True)
    prototypes = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    valid = torch.tensor([True, False, True])
    labels = torch.tensor([0, 1, 2, 1])
    value = prototype_contrastive_loss(features, prototypes, labels, valid)
    assert torch.isfinite(value)
    value.backward()
    assert features.grad[[0, 2]].abs().sum() > 0 and features.grad[[1, 3]].abs().sum() == 0
    none_valid = prototype_contrastive_loss(features, prototypes, labels, torch.zeros(3, dtype=torch.bool))
    assert float(none_valid.detach()) == 0.0


def test_loss_returns_named_terms_and_trainer_weights_them():
    image, table, labels, image_protos, table_protos = separated_features()
    outputs = {"logits": torch.zeros(len(labels), 2), "image_embedding": image, "table_embedding": table,
               "image_prototypes": image_protos, "table_prototypes": table_protos,
               "prototype_counts": torch.tensor([6, 6])}
    terms = CFCMLLoss()(outputs, {"label": labels})
    assert set(terms) == {"task", *CCRM_TERMS}
    assert DEFAULT_CCRM_WEIGHTS == {"ccrm_sample": 0.04, "ccrm_unimodal_proto": 0.06, "ccrm_crossmodal_proto": 0.18}
    total, logged = combine_loss_terms(terms, DEFAULT_CCRM_WEIGHTS)
    expected = terms["task"] + sum(DEFAULT_CCRM_WEIGHTS[k] * terms[k] for k in CCRM_TERMS)
    assert torch.allclose(total, expected) and set(logged) == set(terms)
    off = CFCMLLoss(ccrm=False)(outputs, {"label": labels})
    assert set(off) == set(terms) and all(float(off[k]) == 0.0 for k in CCRM_TERMS)
    image_only = CFCMLLoss()({"logits": outputs["logits"], "image_embedding": image}, {"label": labels})
    assert all(float(image_only[k]) == 0.0 for k in CCRM_TERMS)
    with pytest.raises(ValueError, match="classification"):
        CFCMLLoss(task="regression")


def test_class_balanced_sampler_weights_from_training_labels():
    records = [{"label": "NEV"}] * 6 + [{"label": "MEL"}] * 2
    sampler = train_sampler(dataset=records, records=records, balanced=True)
    weights = sampler.weights.tolist()
    assert sum(weights[:6]) == pytest.approx(sum(weights[6:]))
    torch.manual_seed(0)
    drawn = [records[i]["label"] for _ in range(50) for i in sampler]
    assert len(drawn) == 50 * len(records)
    assert drawn.count("MEL") / len(drawn) > 0.4  # about half, not the 25 % of the data
    plain = train_sampler(dataset=records, records=records, balanced=False, seed=3)
    assert sorted(plain) == list(range(len(records)))
    with pytest.raises(ValueError, match="8 items but 2 records"):
        train_sampler(dataset=records, records=records[:2], balanced=True)
