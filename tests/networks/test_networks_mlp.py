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
"""``TableMLP``: shapes, missing cells (learned values, invariance to what a masked cell holds), input checks."""

from __future__ import annotations

import pytest
import torch

from monai_tabular.networks import TableMLP, create_encoder

CARDS = [3, 5]


def _table(batch=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    numerical = torch.randn(batch, 3, generator=g)
    numerical_mask = (torch.rand(batch, 3, generator=g) > 0.3).float()
    numerical_mask[0] = 0  # at least one missing and one observed cell per column
    numerical_mask[1] = 1
    numerical = numerical * numerical_mask  # the pipeline stores 0 at missing cells
    categorical = torch.stack([torch.randint(0, c, (batch,), generator=g) for c in CARDS], 1)
    categorical_mask = (torch.rand(batch, 2, generator=g) > 0.3).float()
    categorical_mask[0], categorical_mask[1] = 0, 1
    categorical = categorical * categorical_mask.long()
    return {"numerical": numerical, "numerical_mask": numerical_mask, "categorical": categorical,
            "categorical_mask": categorical_mask}


def _mlp(**kwargs):
    torch.manual_seed(0)
    args = {"n_numerical": 3, "cardinalities": CARDS, "hidden_dims": [16, 8]} | kwargs
    return create_encoder("mlp", **args)


def test_shapes_and_gradients():
    enc = _mlp()
    assert isinstance(enc, TableMLP) and enc.stage_dims == [16, 8] and enc.feature_dim == 8
    table = _table()
    assert [tuple(f.shape) for f in enc.forward_features(**table)] == [(6, 16), (6, 8)]
    out = enc(**table)
    assert tuple(out.shape) == (6, 8)
    (out * torch.randn(out.shape)).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    assert TableMLP(n_numerical=1, cardinalities=[]).feature_dim == 64  # defaults: hidden_dims [128, 64]


def test_masked_cells_do_not_matter():
    enc = _mlp().eval()
    table = _table()
    with torch.no_grad():
        reference = enc(**table)
        changed = dict(table)
        num_missing, cat_missing = table["numerical_mask"] == 0, table["categorical_mask"] == 0
        for garbage in (123.0, -7.5, float("nan")):
            changed["numerical"] = table["numerical"].masked_fill(num_missing, garbage)
            changed["categorical"] = table["categorical"].masked_fill(cat_missing, 99)  # even out of range
            torch.testing.assert_close(enc(**changed), reference, rtol=0, atol=0)
        # and an observed cell does matter
        changed = dict(table, numerical=table["numerical"].masked_fill(~num_missing, 3.0))
        assert not torch.allclose(enc(**changed), reference)


def test_missing_is_not_zero_and_not_unknown():
    enc = _mlp().eval()
    one = {"numerical": torch.zeros(1, 3), "numerical_mask": torch.ones(1, 3),
           "categorical": torch.zeros(1, 2, dtype=torch.long), "categorical_mask": torch.ones(1, 2)}
    with torch.no_grad():
        observed = enc(**one)  # observed zeros and observed "unknown category" (index 0)
        assert not torch.allclose(enc(**dict(one, numerical_mask=torch.tensor([[0.0, 1, 1]]))), observed)
        assert not torch.allclose(enc(**dict(one, categorical_mask=torch.tensor([[0.0, 1]]))), observed)
    with torch.no_grad():  # the learned missing value stands in for a missing numerical cell
        enc.missing_value.fill_(0.7)
        changed = enc(**dict(one, numerical_mask=torch.tensor([[0.0, 1, 1]])))
        enc.missing_value.fill_(0.0)
        assert not torch.allclose(enc(**dict(one, numerical_mask=torch.tensor([[0.0, 1, 1]]))), changed)


@pytest.mark.parametrize("n_numerical,cards", [(0, CARDS), (3, [])])
def test_only_one_column_type(n_numerical, cards):
    enc = _mlp(n_numerical=n_numerical, cardinalities=cards)
    table = _table()
    if not n_numerical:
        table.update(numerical=torch.zeros(6, 0), numerical_mask=None)
    else:
        table.update(categorical=torch.zeros(6, 0), categorical_mask=torch.zeros(6, 0))
    assert tuple(enc(**table).shape) == (6, 8)
    assert tuple(enc(**{k: v for k, v in table.items() if v is not None and v.shape[1]}).shape) == (6, 8)


def test_input_and_constructor_errors():
    enc = _mlp()
    table = _table()
    with pytest.raises(ValueError, match=r"numerical of shape \(B=6, 3\), got \(6, 2\)"):
        enc(**dict(table, numerical=table["numerical"][:, :2]))
    with pytest.raises(ValueError, match="column 1 has cardinality 5"):
        enc(**dict(table, categorical=torch.tensor([[0, 5]] * 6), categorical_mask=torch.ones(6, 2)))
    with pytest.raises(TypeError, match="int64"):
        enc(**dict(table, categorical=table["categorical"].float()))
    with pytest.raises(ValueError, match="at least one column"):
        TableMLP(n_numerical=0, cardinalities=[])
    with pytest.raises(ValueError, match="cardinalities"):
        TableMLP(n_numerical=1, cardinalities=[0])
    with pytest.raises(ValueError, match="dropout"):
        TableMLP(n_numerical=1, dropout=1.0)
