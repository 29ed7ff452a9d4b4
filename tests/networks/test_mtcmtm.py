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
"""MT-CMTM networks, the pretrained-encoder loader, and the corruption they are trained on."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from monai_tabular.data import TableSchema
from monai_tabular.engines.mtcmtm import PretrainedTableEncoderLoader
from monai_tabular.handlers.checkpoint import CheckpointLoadError
from monai_tabular.losses.mtcmtm import MTCMTMLoss
from monai_tabular.networks.mtcmtm import MTCMTMPretrainer, MTCMTMTableModel
from monai_tabular.transforms import CorruptTabled, EncodeTabled

TABLE_ARGS = {"embedding_dim": 8, "channels": [8, 16], "reduction": 4}
IMAGE_ARGS = {"width_factor": 0.125}


def _batch(n=6, n_numerical=3, cardinalities=(3, 4), image=(1, 16, 16), seed=0):
    g = torch.Generator().manual_seed(seed)
    batch = {"numerical": torch.randn(n, n_numerical, generator=g),
             "numerical_mask": (torch.rand(n, n_numerical, generator=g) > 0.2).float(),
             "categorical": torch.stack([torch.randint(1, c, (n,), generator=g) for c in cardinalities], 1),
             "categorical_mask": torch.ones(n, len(cardinalities))}
    if image is not None:
        batch["image"] = torch.randn(n, *image, generator=g)
    return batch


def _pretrainer(**kwargs):
    args = dict(n_numerical=3, cardinalities=[3, 4], spatial_dims=2, in_channels=1, image_encoder="resnet10",
                image_encoder_args=IMAGE_ARGS, table_encoder_args=TABLE_ARGS, projection_dim=8,
                projection_hidden_dim=16)
    return MTCMTMPretrainer(**{**args, **kwargs})


def test_pretrainer_outputs_3d_and_reconstruction():
    net = _pretrainer(spatial_dims=3, reconstruction=True)
    out = net(_batch(n=2, image=(1, 16, 16, 16)))
    assert out["image_projection"].shape == out["table_projection"].shape == (2, 8)
    assert out["mask_logits"].shape == (2, 5) and out["logits"] is out["mask_logits"]
    assert out["numerical_reconstruction"].shape == (2, 3)
    assert out["categorical_reconstruction"].shape == (2, 2, 4)
    # the first categorical column has 3 indices: index 3 can never be predicted
    assert bool((out["categorical_reconstruction"][:, 0, 3] < -1e3).all())
    assert bool((out["categorical_reconstruction"][:, 1, 3] > -1e3).all())


def test_no_image_ablation_has_no_image_branch_and_needs_no_image():
    net = _pretrainer(use_image=False)
    assert not any(name.startswith("image_") for name, _ in net.named_parameters())
    out = net(_batch(image=None))
    assert "image_projection" not in out
    terms = MTCMTMLoss(lambda_c=0.0)(out, {**_batch(image=None), "numerical_corruption": torch.zeros(6, 3),
                                            "categorical_corruption": torch.zeros(6, 2)})
    assert set(terms) == {"mask"}
    with pytest.raises(KeyError, match="lambda_c=0"):
        MTCMTMLoss()(out, _batch(image=None))


def test_pretraining_steps_lower_the_loss():
    torch.manual_seed(0)
    net = _pretrainer()
    batch = _batch(n=8)
    batch["numerical_corruption"] = (torch.rand(8, 3) < 0.3).float() * batch["numerical_mask"]
    batch["categorical_corruption"] = (torch.rand(8, 2) < 0.3).float()
    loss = MTCMTMLoss(mask_loss="bce")
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    totals = []
    for _ in range(15):
        optimizer.zero_grad()
        total = sum(loss(net(batch), batch).values())
        total.backward()
        optimizer.step()
        totals.append(float(total.detach()))
    assert totals[-1] < totals[0]


def test_table_model_loads_the_pretrained_encoder(tmp_path):
    pretrainer = _pretrainer()
    torch.save({"network": pretrainer.state_dict()}, tmp_path / "model.pt")
    model = MTCMTMTableModel(n_numerical=3, cardinalities=[3, 4], out_channels=1, table_encoder_args=TABLE_ARGS)
    loader = PretrainedTableEncoderLoader(load_path=tmp_path / "model.pt", network=model)
    loader()
    for name, value in pretrainer.table_encoder.state_dict().items():
        assert torch.equal(model.table_encoder.state_dict()[name], value), name
    assert set(loader.report["new"]) == {"head.weight", "head.bias"}
    other = MTCMTMTableModel(n_numerical=3, cardinalities=[3, 4], out_channels=2,
                             table_encoder_args={**TABLE_ARGS, "channels": [8, 32]})
    with pytest.raises(CheckpointLoadError, match="does not fit"):
        PretrainedTableEncoderLoader(load_path=tmp_path / "model.pt", network=other)()
    PretrainedTableEncoderLoader(load_path="", network=other)()  # from scratch: nothing loaded, no error


@pytest.mark.parametrize("out_channels,task", [(2, "classification"), (1, "regression")])
def test_linear_probe_trains_the_head_only(out_channels, task):
    torch.manual_seed(0)
    model = MTCMTMTableModel(n_numerical=3, cardinalities=[3, 4], out_channels=out_channels,
                             table_encoder_args=TABLE_ARGS, linear_probe=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    batch = _batch(image=None)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    logits = model(batch)["logits"]
    target = torch.randint(0, 2, (6,)) if task == "classification" else torch.randn(6, 1)
    value = (torch.nn.functional.cross_entropy(logits, target) if task == "classification"
             else torch.nn.functional.mse_loss(logits, target))
    value.backward()
    optimizer.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("table_encoder."))
    assert not torch.equal(before["head.weight"], after["head.weight"])
    tuned = MTCMTMTableModel(n_numerical=3, cardinalities=[3, 4], out_channels=out_channels,
                             table_encoder_args=TABLE_ARGS)
    assert all(p.requires_grad for p in tuned.parameters())


def test_table_model_modes():
    model = MTCMTMTableModel(n_numerical=3, cardinalities=[3, 4], out_channels=2, table_encoder_args=TABLE_ARGS)
    model.mode = "table_only"
    with pytest.raises(ValueError, match="no image branch"):
        model.mode = "image_only"


# --- the corruption the pretraining relies on (CorruptTabled / TableMarginals) ---------------------------------

@pytest.mark.filterwarnings("ignore:column 'flat' has a single observed value")
def _schema(train: pd.DataFrame) -> TableSchema:
    spec = {"subject_id": "sid", "label": "y", "numerical": ["x", "flat"], "categorical": ["c"], "infer": False}
    return TableSchema.from_table(train, spec).fit(train)


def _frame(x, c, flat=None):
    n = len(x)
    return pd.DataFrame({"sid": [f"s{i}" for i in range(n)], "y": ["a", "b"] * (n // 2),
                         "x": [("" if v is None else str(v)) for v in x], "c": c,
                         "flat": [str(v) for v in (flat if flat is not None else [7.0] * n)]}).replace("", np.nan)


def test_corruption_draws_from_each_columns_training_marginal():
    # training marginals: x in {0, 10, 20} with frequencies 1/8, 2/8, 5/8; c in {u, v} with 3/4, 1/4
    train = _frame([0.0] * 10 + [10.0] * 20 + [20.0] * 50, ["u"] * 60 + ["v"] * 20)
    schema = _schema(train)
    with pytest.warns(UserWarning, match="'flat'"):
        corrupt = CorruptTabled(schema=schema, rate=0.5, keep_original=True)
    corrupt.set_random_state(seed=0)
    encode = EncodeTabled(schema=schema)
    # rows from another split: x = 1000 and c = "v" are never drawn unless from the training marginal
    rows = [encode({"table": {"x": 1000.0 if i % 5 else None, "c": "v", "flat": 7.0}}) for i in range(4000)]
    outs = [corrupt(r) for r in rows]
    ix, iflat = schema.numerical.index("x"), schema.numerical.index("flat")
    column = schema["x"]
    values = torch.stack([o["numerical"][ix] for o in outs]).double() * column.scale + column.center
    flags = torch.stack([o["numerical_corruption"][ix] for o in outs]).bool()
    observed = torch.stack([o["numerical_mask"][ix] for o in outs]).bool()
    assert not bool((flags & ~observed).any())  # missing cells are never corrupted
    assert torch.equal(torch.stack([o["numerical_mask"][ix] for o in outs]),
                       torch.stack([r["numerical_mask"][ix] for r in rows]))  # the mask is kept
    drawn = values[flags]
    assert 0.4 < flags[observed].float().mean() < 0.6
    assert set(np.round(drawn.numpy(), 3).tolist()) <= {0.0, 10.0, 20.0}
    freq = [float((drawn.round() == v).double().mean()) for v in (0.0, 10.0, 20.0)]
    assert freq == pytest.approx([1 / 8, 2 / 8, 5 / 8], abs=0.04)
    assert bool((values[~flags & observed].round() == 1000).all())
    assert not any(bool(o["numerical_corruption"][iflat]) for o in outs)  # single-valued column excluded
    ic = schema.categorical.index("c")
    u_index = int(encode({"table": {"x": 0.0, "c": "u", "flat": 7.0}})["categorical"][ic])
    cat_flags = torch.stack([o["categorical_corruption"][ic] for o in outs]).bool()
    cat_drawn = torch.stack([o["categorical"][ic] for o in outs])[cat_flags]
    assert float((cat_drawn == u_index).double().mean()) == pytest.approx(0.75, abs=0.04)
    assert torch.equal(torch.stack([o["numerical_original"][ix] for o in outs]),
                       torch.stack([r["numerical"][ix] for r in rows]))


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_corruption_rate_outside_0_1_is_an_error(rate):
    schema = _schema(_frame([0.0, 1.0, 2.0, 3.0], ["u", "v", "u", "v"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            CorruptTabled(schema=schema, rate=rate)
