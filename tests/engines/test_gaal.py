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
"""GAAL: surgery on hand-built gradients, hard samples, and the alternating step inside ``TabularTrainer``."""

from __future__ import annotations

import copy
import logging
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from monai_tabular.engines import TabularTrainer
from monai_tabular.engines.gaal import GAALStep
from monai_tabular.losses.gaal import gradient_surgery, hard_sample_count, hard_samples, predictive_entropy
from monai_tabular.networks.gaal import GAALNetwork

# --- surgery on hand-built gradients -------------------------------------------------------------------------


def test_surgery_on_conflicting_gradients():
    g, g_p = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])  # g . g_p = -1
    corrected, v = gradient_surgery(g, g_p, epsilon=0.75)
    assert v == pytest.approx((0.75 + 1.0) / 2.0)
    torch.testing.assert_close(corrected, g + v * g_p)
    assert float(corrected @ g_p) == pytest.approx(0.75)  # the margin is restored exactly


def test_surgery_leaves_aligned_gradients_alone():
    g, g_p = torch.tensor([2.0, 1.0]), torch.tensor([1.0, 0.5])  # g . g_p = 2.5 >= 0.75
    corrected, v = gradient_surgery(g, g_p, epsilon=0.75)
    assert v == 0.0 and torch.equal(corrected, g)


def test_surgery_on_orthogonal_gradients():
    g, g_p = torch.tensor([0.0, 3.0]), torch.tensor([2.0, 0.0])
    corrected, v = gradient_surgery(g, g_p, epsilon=0.75)
    assert v == pytest.approx(0.75 / 4.0)
    torch.testing.assert_close(corrected, torch.tensor([1.5 * 0.25, 3.0]))
    unchanged, v0 = gradient_surgery(g, g_p, epsilon=0.0)  # margin 0: orthogonal is no conflict
    assert v0 == 0.0 and torch.equal(unchanged, g)


def test_surgery_with_normalised_gradients_keeps_the_norm():
    g, g_p = torch.tensor([10.0, 0.0]), torch.tensor([-0.01, 0.01])
    corrected, v = gradient_surgery(g, g_p, epsilon=0.5, normalize=True)
    assert float(corrected.norm()) == pytest.approx(10.0)
    cosine = float(corrected @ g_p) / float(corrected.norm() * g_p.norm())
    assert cosine > 0.0 > float(g @ g_p)
    assert v == pytest.approx(0.5 + 2 ** -0.5)


def test_surgery_with_a_zero_reference_changes_nothing():
    g = torch.tensor([1.0, -2.0])
    corrected, v = gradient_surgery(g, torch.zeros(2))
    assert v == 0.0 and torch.equal(corrected, g)


# --- hard samples and lambda ---------------------------------------------------------------------------------


def test_hard_samples_are_the_highest_entropy_ones():
    logits = torch.tensor([[4.0, -4.0], [0.0, 0.1], [1.0, 0.0], [-6.0, 6.0]])
    entropy = predictive_entropy(logits)
    assert entropy.argmax() == 1
    assert sorted(hard_samples(logits, 0.5).tolist()) == [1, 2]


def test_tiny_batches_keep_one_hard_sample():
    assert hard_sample_count(1, 0.5) == 1
    assert hard_sample_count(3, 0.1) == 1
    assert hard_sample_count(5, 1.0) == 5
    assert hard_sample_count(5, 0.5) == 3


@pytest.mark.parametrize("bad", [0.0, -0.2, 1.5, float("nan"), "half"])
def test_lambda_outside_the_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match=r"lambda must be .*\(0, 1\]"):
        GAALStep(hard_fraction=bad)
    with pytest.raises(ValueError, match=r"lambda"):
        GAALStep(hard_fraction={"table": bad})
    with pytest.raises(ValueError, match=r"lambda"):
        hard_sample_count(4, bad)


# --- the alternating step ------------------------------------------------------------------------------------


def _net(**kwargs) -> GAALNetwork:
    torch.manual_seed(0)
    args = dict(spatial_dims=2, in_channels=1, n_numerical=3, cardinalities=[3], out_channels=2,
                image_encoder="resnet10", image_encoder_args={"width_factor": 0.125},
                table_encoder_args={"hidden_dims": [16], "dropout": 0.0}, embed_dim=8)
    return GAALNetwork(**{**args, **kwargs})


def _samples(n: int = 16, seed: int = 0) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    return [{"image": torch.randn(1, 16, 16, generator=generator), "numerical": torch.randn(3, generator=generator),
             "numerical_mask": torch.ones(3), "categorical": torch.tensor([1]), "categorical_mask": torch.ones(1),
             "label": torch.tensor(i % 2), "subject_id": f"sub-{i:03d}"} for i in range(n)]


def _batch(n: int = 8) -> dict:
    return next(iter(DataLoader(_samples(n), batch_size=n)))


class RecordingOptimizer(torch.optim.SGD):
    """SGD with learning rate 0 that records the gradients of every step."""

    def __init__(self, params):
        super().__init__(params, lr=0.0)
        self.steps: list[dict[int, torch.Tensor]] = []

    def step(self, closure=None):
        self.steps.append({id(p): p.grad.clone() for g in self.param_groups for p in g["params"]
                           if p.grad is not None})
        return super().step(closure)


def _engine(net, optimizer=None):
    optimizer = optimizer or RecordingOptimizer(net.parameters())
    return SimpleNamespace(network=net, optimizer=optimizer, state=SimpleNamespace(epoch=1, iteration=1, device="cpu"),
                           use_amp=False, clip_grad_norm=None, grad_scaler=None, grad_accumulation=1)


@pytest.mark.parametrize("normalize", [False, True])
def test_surgery_changes_psi_gradients_only(normalize):
    net, batch = _net(), _batch()
    step = GAALStep(epsilon=0.9 if normalize else 100.0, normalize=normalize)  # margins no gradient here meets
    step(_engine(net), batch)  # fills the hard-sample cache
    psi_params = list(net.classifier.parameters())
    reference = step._reference(net, psi_params)  # g_p of the next (image) step: the table's hard samples
    plain_net, plain_step = copy.deepcopy(net), copy.deepcopy(step)
    plain_step.surgery = False
    with_surgery, without = _engine(net), _engine(plain_net)
    step(with_surgery, batch)
    plain_step(without, batch)
    assert all(row["surgery_v"] > 0 for row in step.records()[2:])
    psi = {id(p) for p in psi_params}
    names = {id(p): n for n, p in net.named_parameters()}
    plain_ids = {n: id(p) for n, p in plain_net.named_parameters()}
    for recorded, plain in zip(with_surgery.optimizer.steps, without.optimizer.steps):
        for pid, grad in recorded.items():
            other = plain[plain_ids[names[pid]]]
            if pid in psi:
                assert not torch.allclose(grad, other)
            else:
                torch.testing.assert_close(grad, other, rtol=0, atol=0)
    # the image step's psi gradient is exactly the surgery of the plain one against the table's g_p
    flat = lambda grads, ids: torch.cat([grads[i].reshape(-1) for i in ids])  # noqa: E731
    plain_psi = [plain_ids[names[id(p)]] for p in psi_params]
    expected, _ = gradient_surgery(flat(without.optimizer.steps[0], plain_psi), reference,
                                   epsilon=step.epsilon, normalize=normalize)
    torch.testing.assert_close(flat(with_surgery.optimizer.steps[0], [id(p) for p in psi_params]), expected)


def test_one_optimizer_step_per_modality_touching_its_own_branch():
    net, batch = _net(), _batch()
    engine = _engine(net)
    GAALStep()(engine, batch)
    image_step, table_step = engine.optimizer.steps
    image_ids = {id(p) for p in net.encoders["image"].parameters()}
    table_ids = {id(p) for p in net.encoders["table"].parameters()}
    psi = {id(p) for p in net.classifier.parameters()}
    assert psi <= image_step.keys() and psi <= table_step.keys()
    assert not (table_ids & image_step.keys()) and not (image_ids & table_step.keys())


def test_hard_sample_gradient_needs_no_extra_encoder_forward():
    net, batch = _net(), _batch()
    calls = {"image": 0, "table": 0}
    for name in calls:
        net.encoders[name].register_forward_hook(lambda *_, name=name: calls.__setitem__(name, calls[name] + 1))
    step, engine = GAALStep(), _engine(net)
    for iteration in (1, 2, 3):
        engine.state.iteration = iteration
        step(engine, batch)
    assert calls == {"image": 3, "table": 3}
    assert all(row["n_hard"] == 4 for row in step.records())  # lambda 0.5 of 8


def _trainer(net, samples, step, *, batch_size=4, epochs=1):
    loader = DataLoader(samples, batch_size=batch_size, shuffle=False)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    return TabularTrainer(device="cpu", max_epochs=epochs, train_data_loader=loader, network=net,
                          optimizer=optimizer, loss_function=None, step_function=step)


def test_a_batch_without_any_table_skips_the_table_step(caplog, tmp_path):
    samples = _samples(8)
    for sample in samples[:4]:  # the whole first batch lacks its table
        sample["table_present"] = torch.tensor(0.0)
    for sample in samples[4:]:
        sample["table_present"] = torch.tensor(1.0)
    step = GAALStep(log_dir=tmp_path)
    trainer = _trainer(_net(), samples, step)
    with caplog.at_level(logging.WARNING, logger="monai_tabular.engines.gaal"):
        trainer.run()
    assert trainer.state.gaal_skipped == {"table": 1}
    assert any("table modality" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
    history = pd.read_csv(tmp_path / "gaal_gradients.csv")
    skipped = history[history["skipped"] == 1]
    assert skipped[["iteration", "modality"]].values.tolist() == [[1, "table"]]
    assert trainer.state.output["loss_terms"].keys() == {"loss_image", "loss_table"}  # the second batch had both
    assert (tmp_path / "gaal_gradients.png").stat().st_size > 0


def test_nan_loss_names_the_step():
    samples = _samples(4)
    samples[2]["numerical"] = torch.tensor([float("nan"), 0.0, 0.0])
    trainer = _trainer(_net(), samples, GAALStep())
    with pytest.raises(FloatingPointError, match="GAAL table step: loss is nan"):
        trainer.run()


def test_gradient_accumulation_is_refused():
    net = _net()
    loader = DataLoader(_samples(4), batch_size=4)
    trainer = TabularTrainer(device="cpu", max_epochs=1, train_data_loader=loader, network=net,
                             optimizer=torch.optim.SGD(net.parameters(), lr=0.1), loss_function=None,
                             step_function=GAALStep(), accumulation_steps=2)
    with pytest.raises(ValueError, match="accumulation_steps must be 1"):
        trainer.run()


def test_training_with_views_logs_the_cosine_per_step(tmp_path):
    views = {"a": {"numerical": [0, 1], "categorical": []}, "b": {"numerical": [2], "categorical": [0]}}
    step = GAALStep(log_dir=tmp_path, hard_fraction={"image": 0.25, "a": 1.0})
    trainer = _trainer(_net(table_views=views), _samples(8), step, epochs=2)
    trainer.run()
    history = pd.read_csv(tmp_path / "gaal_gradients.csv")
    assert history["modality"].tolist() == ["image", "a", "b"] * 4
    assert history["reference"].fillna("").tolist()[:4] == ["", "image", "a", "b"]  # the previous modality
    assert history["n_hard"].tolist()[:3] == [1, 4, 2]
    assert history["cos_hard"].iloc[1:].between(-1, 1).all()
    assert set(trainer.state.output["loss_terms"]) == {"loss_image", "loss_a", "loss_b"}
