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
"""Survival losses: Cox partial likelihood (Breslow) against a direct risk-set sum and scikit-survival's CoxPH fit,
and the discrete-time logistic-hazard loss against its definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_tabular.losses.survival import (cox_partial_likelihood, discretize_times, logistic_hazard_loss,
                                           survival_from_hazard_logits)
from monai_tabular.losses.task import TaskLoss


def _direct_breslow(risk, time, event):
    """The textbook O(n^2) Breslow negative log partial likelihood, averaged over events."""
    total = 0.0
    for i in range(len(time)):
        if event[i]:
            at_risk = time >= time[i]
            total += risk[i] - np.log(np.exp(risk[at_risk]).sum())
    return -total / event.sum()


@pytest.mark.parametrize("seed", [0, 1])
def test_cox_matches_direct_risk_set_sum_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 40
    time = rng.integers(1, 8, n).astype(float)  # many ties
    event = (rng.random(n) < 0.6).astype(float)
    risk = rng.normal(size=n)
    value = cox_partial_likelihood(torch.tensor(risk), torch.tensor(time), torch.tensor(event))
    assert value.item() == pytest.approx(_direct_breslow(risk, time, event), rel=1e-5)


def test_cox_optimum_matches_scikit_survival_breslow_coxph():
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    rng = np.random.default_rng(0)
    n = 150
    x = rng.normal(size=(n, 3))
    time = np.round(rng.exponential(1.0 / np.exp(x @ np.array([0.8, -0.5, 0.0]))), 1) + 0.1  # ties
    event = rng.random(n) < 0.7
    reference = CoxPHSurvivalAnalysis(alpha=0.0, ties="breslow").fit(x, Surv.from_arrays(event, time)).coef_
    weights = torch.zeros(3, requires_grad=True, dtype=torch.float64)
    optimizer = torch.optim.LBFGS([weights], max_iter=200, tolerance_grad=1e-10, line_search_fn="strong_wolfe")
    xt, tt, et = torch.tensor(x), torch.tensor(time), torch.tensor(event, dtype=torch.float64)

    def closure():
        optimizer.zero_grad()
        loss = cox_partial_likelihood(xt @ weights, tt, et)
        loss.backward()
        return loss

    optimizer.step(closure)
    np.testing.assert_allclose(weights.detach().numpy(), reference, atol=1e-3)


def test_cox_without_events_is_zero_with_gradient_and_shapes_are_checked():
    risk = torch.randn(4, requires_grad=True)
    value = cox_partial_likelihood(risk, torch.arange(4.0), torch.zeros(4))
    value.backward()
    assert value.item() == 0 and risk.grad is not None
    with pytest.raises(ValueError, match="one value per subject"):
        cox_partial_likelihood(torch.randn(3), torch.arange(4.0), torch.zeros(4))


def test_cox_handles_1e5_subjects_without_an_n_by_n_matrix():
    n = 100_000
    value = cox_partial_likelihood(torch.randn(n), torch.rand(n), (torch.rand(n) < 0.5).float())
    assert torch.isfinite(value)


def test_logistic_hazard_matches_its_definition():
    logits = torch.tensor([[0.3, -0.2, 1.0], [0.1, 0.4, -0.7]])
    cuts = [0.0, 1.0, 2.0, 3.0]
    time, event = torch.tensor([1.5, 2.5]), torch.tensor([1.0, 0.0])
    assert discretize_times(time, cuts).tolist() == [1, 2]
    sig = torch.sigmoid
    expected = (-(torch.log(1 - sig(logits[0, 0])) + torch.log(sig(logits[0, 1])))
                - (torch.log(1 - sig(logits[1, 0])) + torch.log(1 - sig(logits[1, 1]))
                   + torch.log(1 - sig(logits[1, 2])))) / 2
    torch.testing.assert_close(logistic_hazard_loss(logits, time, event, cuts), expected)
    curves = survival_from_hazard_logits(logits)
    assert bool((curves[:, 1:] <= curves[:, :-1]).all())
    with pytest.raises(ValueError, match="need 4 cuts"):
        logistic_hazard_loss(logits, time, event, [0.0, 1.0])


def test_task_loss_survival_and_focal_options():
    label = torch.tensor([[1.0, 1.0], [2.0, 0.0], [3.0, 1.0]])
    cox = TaskLoss(task="survival")({"logits": torch.randn(3, 1)}, {"label": label})["task"]
    hazard = TaskLoss(task="survival", survival_loss="logistic_hazard", time_cuts=[0, 1.5, 4])(
        {"logits": torch.randn(3, 2)}, {"label": label})["task"]
    assert torch.isfinite(cox) and torch.isfinite(hazard)
    with pytest.raises(ValueError, match="time_cuts"):
        TaskLoss(task="survival", survival_loss="logistic_hazard")
    logits, target = torch.tensor([[3.0, 0.0], [0.0, 0.5]]), torch.tensor([0, 1])
    ce = TaskLoss()({"logits": logits}, {"label": target})["task"]
    focal = TaskLoss(focal_gamma=2.0)({"logits": logits}, {"label": target})["task"]
    assert focal < ce
    zero_gamma = TaskLoss(focal_gamma=1e-12, class_weights=[1.0, 3.0])({"logits": logits}, {"label": target})["task"]
    weighted = TaskLoss(class_weights=[1.0, 3.0])({"logits": logits}, {"label": target})["task"]
    torch.testing.assert_close(zero_gamma, weighted)
