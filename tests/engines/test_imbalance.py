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
"""Class imbalance: class weights and the balanced sampler from the training split, focal loss, and the Youden
threshold chosen on validation data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_tabular.engines.setup import balanced_sampler
from monai_tabular.losses.focal import focal_loss


def test_balanced_sampler_draws_classes_equally_often():
    records = [{"label": "rare"}] * 10 + [{"label": "common"}] * 90
    sampler = balanced_sampler(records, seed=0, num_samples=20000)
    drawn = np.array([records[i]["label"] == "rare" for i in sampler])
    assert abs(drawn.mean() - 0.5) < 0.03
    assert list(balanced_sampler(records, seed=1)) == list(balanced_sampler(records, seed=1))


def test_fold_class_weights_follow_the_training_split(cohort40, tmp_path):
    from monai_tabular.engines import prepare_fold

    data = prepare_fold(output_dir=tmp_path / "run", csv=cohort40.csv_path, spec=cohort40.spec, n_folds=4)
    weights = data.loss_class_weights(True)
    counts = [sum(str(r["label"]) == c for r in data.train) for c in data.class_names]
    assert len(weights) == 2 and np.mean(weights) == pytest.approx(1.0)
    assert (weights[0] > weights[1]) == (counts[0] < counts[1])
    assert data.loss_class_weights(False) is None


def test_focal_loss_down_weights_easy_samples_and_reduces_to_cross_entropy():
    logits = torch.tensor([[4.0, 0.0], [0.2, 0.0], [0.0, 0.1]])
    target = torch.tensor([0, 1, 1])
    ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    focal = torch.stack([focal_loss(logits[i:i + 1], target[i:i + 1], gamma=2.0) for i in range(3)])
    ratio = focal / ce
    assert ratio[0] < ratio[1] and ratio[0] < ratio[2]  # the easy sample loses the most
    torch.testing.assert_close(focal_loss(logits, target, gamma=0.0), ce.mean())
    weights = torch.tensor([1.0, 4.0])
    torch.testing.assert_close(focal_loss(logits, target, gamma=0.0, class_weights=weights),
                               torch.nn.functional.cross_entropy(logits, target, weight=weights))
    with pytest.raises(ValueError, match="gamma"):
        focal_loss(logits, target, gamma=-1.0)


def test_youden_threshold_on_validation_raises_balanced_accuracy_of_a_shifted_model():
    from monai_tabular.engines.evaluator import validation_threshold

    class Shifted(torch.nn.Module):  # a good ranking whose probabilities are all pushed towards class 0
        def forward(self, batch):
            score = batch["x"].float().view(-1)
            return {"logits": torch.stack([torch.full_like(score, 3.0), score], dim=1)}

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    records = [{"x": torch.tensor(float(y) + rng.normal(0, 0.3)), "label": torch.tensor(int(y))} for y in labels]
    threshold = validation_threshold(network=Shifted(), records=records, transform=lambda d: d, device="cpu",
                                     batch_size=16)
    assert 0 < threshold < 0.5
    from monai_tabular.metrics import classification_metrics

    scores = torch.softmax(Shifted()({"x": torch.stack([r["x"] for r in records])})["logits"], 1).numpy()
    at_half = classification_metrics(labels, scores)["balanced_accuracy"]
    at_youden = classification_metrics(labels, scores, threshold=threshold)["balanced_accuracy"]
    assert at_youden > at_half
