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
"""``combine_loss_terms`` and ``TabularTrainer`` on a hand-made linear network and loader."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from ignite.engine import Events

from monai_tabular.engines import TabularTrainer, combine_loss_terms
from monai_tabular.losses import TaskLoss
from tests.engines.engine_helpers import LinearNet, make_loader, make_samples


def _trainer(net, loader, loss, *, lr=0.1, max_epochs=1, **kwargs) -> TabularTrainer:
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    return TabularTrainer(device="cpu", max_epochs=max_epochs, train_data_loader=loader, network=net,
                          optimizer=optimizer, loss_function=loss, **kwargs)


def _record_outputs(trainer) -> list[dict]:
    outputs: list[dict] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: outputs.append(dict(e.state.output)))
    return outputs


class TwoTermLoss:
    """``{"task": cross-entropy, "aux": mean squared logit}``."""

    def __call__(self, outputs, batch):
        logits = outputs["logits"]
        return {"task": F.cross_entropy(logits.float(), batch["label"]), "aux": logits.float().pow(2).mean()}


# ---------------------------------------------------------------- combine_loss_terms


def test_combine_loss_terms_weighted_sum_and_unweighted_log():
    terms = {"task": torch.tensor(1.5), "aux": torch.tensor([1.0, 3.0])}
    total, logged = combine_loss_terms(terms, {"aux": 0.25, "task": 2.0})
    assert float(total) == pytest.approx(2.0 * 1.5 + 0.25 * 2.0)
    assert logged == {"task": pytest.approx(1.5), "aux": pytest.approx(2.0)}  # unweighted, means


def test_combine_loss_terms_default_weight_one_and_tensor_loss():
    total, logged = combine_loss_terms({"a": torch.tensor(1.0), "b": torch.tensor(2.0)})
    assert float(total) == pytest.approx(3.0)
    total, logged = combine_loss_terms(torch.tensor([1.0, 2.0, 6.0]))
    assert float(total) == pytest.approx(3.0) and logged == {"loss": pytest.approx(3.0)}


def test_combine_loss_terms_keeps_gradients():
    x = torch.tensor(2.0, requires_grad=True)
    total, _ = combine_loss_terms({"sq": x * x, "lin": 3 * x}, {"lin": 0.5})
    total.backward()
    assert float(x.grad) == pytest.approx(2 * 2.0 + 1.5)


def test_combine_loss_terms_unknown_weight_is_named():
    with pytest.raises(KeyError, match="auxx"):
        combine_loss_terms({"task": torch.tensor(1.0), "aux": torch.tensor(1.0)}, {"auxx": 0.5})
    with pytest.raises(ValueError, match="no terms"):
        combine_loss_terms({})


# ---------------------------------------------------------------- TabularTrainer


def test_trainer_logs_weighted_loss_terms():
    samples = make_samples(8)
    net = LinearNet()
    trainer = _trainer(net, make_loader(samples, 4), TwoTermLoss(), loss_weights={"aux": 0.5}, lr=0.0)
    outputs = _record_outputs(trainer)
    trainer.run()
    assert len(outputs) == 2
    for out, start in zip(outputs, (0, 4)):
        assert set(out["loss_terms"]) == {"task", "aux"}
        assert all(isinstance(v, float) for v in out["loss_terms"].values())
        terms = out["loss_terms"]
        assert float(out["loss"]) == pytest.approx(terms["task"] + 0.5 * terms["aux"], rel=1e-5)
        # lr=0: the logged task term is the cross-entropy of the (unchanged) network on this batch
        x = torch.stack([s["numerical"] for s in samples[start:start + 4]])
        y = torch.stack([s["label"] for s in samples[start:start + 4]])
        with torch.no_grad():
            expected = F.cross_entropy(net.linear(x), y)
        assert terms["task"] == pytest.approx(float(expected), rel=1e-5)
        assert out["pred"].shape == (4, 2)
        assert torch.equal(out["label"], y)
        assert "logits" in out["outputs"]


def test_trainer_rejects_unknown_loss_weight():
    trainer = _trainer(LinearNet(), make_loader(make_samples(4), 4), TaskLoss(), loss_weights={"tsak": 1.0})
    with pytest.raises(KeyError, match="tsak"):
        trainer.run()


def test_gradient_accumulation_matches_large_batch():
    samples = make_samples(8)
    accumulated, single = LinearNet(seed=1), LinearNet(seed=1)
    _trainer(accumulated, make_loader(samples, 4), TaskLoss(), accumulation_steps=2).run()
    _trainer(single, make_loader(samples, 8), TaskLoss()).run()
    untouched = LinearNet(seed=1)
    for a, b, c in zip(accumulated.parameters(), single.parameters(), untouched.parameters()):
        assert not torch.allclose(b, c)  # the step did change the weights
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_gradient_accumulation_steps_at_epoch_end():
    """3 iterations with accumulation 2: a step after iterations 2 and 3 (the last of the epoch) each epoch."""
    net = LinearNet()
    trainer = _trainer(net, make_loader(make_samples(12), 4), TaskLoss(), accumulation_steps=2, max_epochs=2)
    steps = []
    original = trainer.optimizer.step

    def counting_step(*args, **kwargs):
        steps.append(trainer.state.iteration)
        return original(*args, **kwargs)

    trainer.optimizer.step = counting_step
    trainer.run()
    assert steps == [2, 3, 5, 6]
    with pytest.raises(ValueError, match="accumulation_steps"):
        _trainer(LinearNet(), make_loader(make_samples(4), 4), TaskLoss(), accumulation_steps=0)


def test_amp_runs_on_cpu_with_bfloat16():
    net = LinearNet()
    before = copy.deepcopy(net.state_dict())
    trainer = _trainer(net, make_loader(make_samples(8), 4), TaskLoss(), amp=True)
    outputs = _record_outputs(trainer)
    trainer.run()
    assert trainer.grad_scaler is None  # no grad scaler on CPU
    assert outputs[-1]["pred"].dtype == torch.bfloat16  # autocast was active
    assert all(torch.isfinite(torch.tensor(v)) for v in outputs[-1]["loss_terms"].values())
    after = net.state_dict()
    assert all(after[k].dtype == torch.float32 for k in after)  # parameters stay float32
    assert any(not torch.equal(before[k], after[k]) for k in after)


def test_nan_loss_raises_with_epoch_and_iteration():
    samples = make_samples(8)
    samples[5]["numerical"] = torch.full((3,), float("nan"))  # in the second batch of 4
    trainer = _trainer(LinearNet(), make_loader(samples, 4), TaskLoss())
    with pytest.raises(FloatingPointError, match=r"epoch 1, iteration 2") as info:
        trainer.run()
    assert "sub-0005" in str(info.value)  # the subjects of the failing batch are named


def test_custom_step_function_two_optimizer_steps():
    samples = make_samples(8)
    net = LinearNet()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    calls, steps = [], []
    original = optimizer.step

    def counting_step(*args, **kwargs):
        steps.append(1)
        return original(*args, **kwargs)

    optimizer.step = counting_step

    def step_function(engine, batch):
        calls.append(engine.state.iteration)
        terms = {}
        for name, scale in (("first", 1.0), ("second", 0.5)):
            engine.optimizer.zero_grad()
            outputs = engine.network(batch)
            loss = scale * F.cross_entropy(outputs["logits"], batch["label"])
            loss.backward()
            engine.optimizer.step()
            terms[name] = float(loss.detach())
        return outputs, terms

    trainer = TabularTrainer(device="cpu", max_epochs=2, train_data_loader=make_loader(samples, 4), network=net,
                             optimizer=optimizer, loss_function=TaskLoss(), step_function=step_function)
    outputs = _record_outputs(trainer)
    trainer.run()
    assert calls == [1, 2, 3, 4]
    assert len(steps) == 8  # two optimizer steps per iteration
    assert all(set(o["loss_terms"]) == {"first", "second"} for o in outputs)
    last = outputs[-1]
    assert float(last["loss"]) == pytest.approx(last["loss_terms"]["first"] + last["loss_terms"]["second"])


def test_plain_torch_loss_is_called_with_logits_and_label():
    samples = make_samples(8)
    net = LinearNet()
    trainer = _trainer(net, make_loader(samples, 8), torch.nn.CrossEntropyLoss(), lr=0.0)
    outputs = _record_outputs(trainer)
    trainer.run()
    x = torch.stack([s["numerical"] for s in samples])
    y = torch.stack([s["label"] for s in samples])
    with torch.no_grad():
        expected = float(F.cross_entropy(net.linear(x), y))
    assert set(outputs[0]["loss_terms"]) == {"loss"}
    assert outputs[0]["loss_terms"]["loss"] == pytest.approx(expected, rel=1e-5)


def test_plain_torch_loss_trains():
    samples = make_samples(32)
    net = LinearNet()
    trainer = _trainer(net, make_loader(samples, 8), torch.nn.CrossEntropyLoss(), lr=0.5, max_epochs=5)
    outputs = _record_outputs(trainer)
    trainer.run()
    first_epoch = sum(o["loss_terms"]["loss"] for o in outputs[:4])
    last_epoch = sum(o["loss_terms"]["loss"] for o in outputs[-4:])
    assert last_epoch < first_epoch
