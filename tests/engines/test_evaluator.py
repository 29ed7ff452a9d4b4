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
"""``TabularEvaluator``: mode validation, the network's mode during and after evaluation."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Events

from monai_tabular.engines import EVAL_MODES, TabularEvaluator
from monai_tabular.networks.nets import FusionClassifier
from tests.engines.engine_helpers import LinearNet, ModeNet, make_loader, make_samples


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="image_only"):  # the message lists the valid modes
        TabularEvaluator(device="cpu", val_data_loader=make_loader(make_samples(4), 4), network=ModeNet(),
                         mode="images")


@pytest.mark.parametrize("mode", ["image_only", "table_only"])
def test_network_without_mode_only_accepts_both(mode):
    loader = make_loader(make_samples(4), 4)
    with pytest.raises(ValueError, match="LinearNet.*mode='both'"):
        TabularEvaluator(device="cpu", val_data_loader=loader, network=LinearNet(), mode=mode)
    evaluator = TabularEvaluator(device="cpu", val_data_loader=loader, network=LinearNet(), mode="both")
    evaluator.run()
    assert evaluator.state.output["pred"].shape == (4, 2)


@pytest.mark.parametrize("mode", EVAL_MODES)
def test_mode_set_during_evaluation_and_restored(mode):
    net = ModeNet()
    net.train()
    evaluator = TabularEvaluator(device="cpu", val_data_loader=make_loader(make_samples(8), 4), network=net,
                                 mode=mode)
    outputs = []
    evaluator.add_event_handler(Events.ITERATION_COMPLETED, lambda e: outputs.append(e.state.output))
    evaluator.run()
    assert net.seen_modes == [mode, mode]
    assert net.mode == "both"
    assert not net.training  # evaluated in eval mode
    assert outputs[0]["subject_id"] == [f"sub-{i:04d}" for i in range(4)]
    assert outputs[1]["label"].tolist() == [int(s["label"]) for s in make_samples(8)[4:]]
    assert not outputs[0]["pred"].requires_grad


def test_mode_restored_when_forward_fails():
    net = ModeNet(fail=True)
    net.mode = "both"
    evaluator = TabularEvaluator(device="cpu", val_data_loader=make_loader(make_samples(4), 4), network=net,
                                 mode="table_only")
    with pytest.raises(RuntimeError, match="on purpose"):
        evaluator.run()
    assert net.seen_modes == ["table_only"]
    assert net.mode == "both"


def test_fusion_modes_change_predictions():
    torch.manual_seed(0)
    net = FusionClassifier(image_encoder="resnet10", spatial_dims=2, in_channels=1, n_numerical=3,
                           cardinalities=[], out_channels=2, image_encoder_args={"width_factor": 0.125})
    samples = make_samples(4)
    for i, sample in enumerate(samples):
        sample["image"] = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(i))
    preds = {}
    for mode in EVAL_MODES:
        evaluator = TabularEvaluator(device="cpu", val_data_loader=make_loader(samples, 4), network=net, mode=mode)
        evaluator.run()
        preds[mode] = evaluator.state.output["pred"]
        present = evaluator.state.output["outputs"]
        assert present["image_present"].tolist() == [float(mode != "table_only")] * 4
        assert present["table_present"].tolist() == [float(mode != "image_only")] * 4
    assert net.mode == "both"
    assert not torch.allclose(preds["both"], preds["image_only"])
    assert not torch.allclose(preds["both"], preds["table_only"])


def test_single_modality_network_refuses_the_other_modality():
    from monai_tabular.networks.nets import TableClassifier

    net = TableClassifier(n_numerical=3, cardinalities=[], out_channels=2)
    with pytest.raises(ValueError, match="no image branch"):  # refused when the evaluator is built, not mid-run
        TabularEvaluator(device="cpu", val_data_loader=make_loader(make_samples(4), 4), network=net,
                         mode="image_only")
    assert net.mode == "both"
    TabularEvaluator(device="cpu", val_data_loader=make_loader(make_samples(4), 4), network=net,
                     mode="table_only").run()
