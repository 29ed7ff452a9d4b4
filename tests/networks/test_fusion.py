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
"""Tests of the fusion-module registry and of every registered fusion (2D and 3D image maps, missing modalities)."""

from __future__ import annotations

import json

import pytest
import torch

from monai_tabular.networks.fusion import UnknownFusionError, create_fusion, list_fusions

B, IMAGE_DIM, TABLE_DIM, OUT_DIM, N_ATTR, TOKEN_DIM = 4, 8, 6, 3, 3, 5
TINY = {  # name -> own constructor kwargs (JSON-serialisable, as in a bundle config)
    "concat": {},
    "late_average": {},
    "gated_attention": {"gate_dim": 4},
    "daft": {},
    "cross_attention": {"d_model": 8, "num_heads": 2, "token_dim": TOKEN_DIM},
}
CASES = [(name, dims) for name in list_fusions() for dims in (2, 3)]
PRESENCE = {  # pattern -> (image_present, table_present)
    "all": ([1, 1, 1, 1], [1, 1, 1, 1]),
    "some_missing_image": ([1, 0, 1, 0], [1, 1, 1, 1]),
    "some_missing_table": ([1, 1, 1, 1], [0, 1, 0, 1]),
    "mixed": ([1, 0, 1, 1], [1, 1, 0, 1]),
}


def _fusion(name, dims, seed=0):
    torch.manual_seed(seed)
    kwargs = json.loads(json.dumps(TINY[name]))  # expressible in bundle JSON
    return create_fusion(name, image_dim=IMAGE_DIM, table_dim=TABLE_DIM, out_dim=OUT_DIM, spatial_dims=dims, **kwargs)


def _inputs(dims, pattern="all", seed=1):
    g = torch.Generator().manual_seed(seed)
    image_present, table_present = (torch.tensor(v, dtype=torch.float32) for v in PRESENCE[pattern])
    return {"image_features": torch.randn(B, IMAGE_DIM, generator=g),
            "table_features": torch.randn(B, TABLE_DIM, generator=g),
            "image_present": image_present, "table_present": table_present,
            "image_map": torch.randn(B, IMAGE_DIM, *([4] * dims), generator=g),
            "table_tokens": torch.randn(B, N_ATTR, TOKEN_DIM, generator=g)}


def _call(fusion, inputs):
    inputs = dict(inputs)
    return fusion(inputs.pop("image_features"), inputs.pop("table_features"), **inputs)


def test_every_registered_fusion_has_a_tiny_configuration():
    assert sorted(set(list_fusions()) ^ set(TINY)) == []


@pytest.mark.parametrize("name,dims", CASES)
@pytest.mark.parametrize("pattern", list(PRESENCE))
def test_output_shape_and_absent_modality_is_ignored(name, dims, pattern):
    fusion = _fusion(name, dims).eval()
    assert isinstance(fusion.needs_image_map, bool)
    inputs = _inputs(dims, pattern)
    out = _call(fusion, inputs)
    assert out.shape == (B, OUT_DIM) and torch.isfinite(out).all()
    # garbage (random, huge, NaN) in the absent modality of a sample changes nothing
    for fill in ("random", "nan"):
        garbage = {k: v.clone() for k, v in inputs.items()}
        g = torch.Generator().manual_seed(7)
        for flag, keys in (("image_present", ("image_features", "image_map")),
                           ("table_present", ("table_features", "table_tokens"))):
            absent = inputs[flag] < 0.5
            for key in keys:
                value = garbage[key]
                noise = torch.full_like(value[absent], float("nan")) if fill == "nan" else \
                    1e3 * torch.randn(value[absent].shape, generator=g)
                value[absent] = noise
        torch.testing.assert_close(_call(fusion, garbage), out)


@pytest.mark.parametrize("name,dims", CASES)
def test_gradients_reach_every_parameter(name, dims):
    def silent(pattern):
        fusion = _fusion(name, dims).train()
        _call(fusion, _inputs(dims, pattern)).square().mean().backward()
        return [n for n, p in fusion.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]

    # all present: everything but the learned "missing" embeddings, which are unused by design
    assert [n for n in silent("all") if not n.split(".")[-1].startswith("missing_")] == []
    assert silent("mixed") == []  # with absent modalities in the batch: every parameter


@pytest.mark.parametrize("name,dims", CASES)
def test_absent_modality_gradients_are_finite_with_nan_garbage(name, dims):
    fusion = _fusion(name, dims).train()
    inputs = _inputs(dims, "mixed")
    inputs["image_map"][1] = float("nan")
    inputs["image_features"][1] = float("nan")
    inputs["table_features"][2] = float("nan")
    inputs["table_tokens"][2] = float("nan")
    _call(fusion, inputs).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in fusion.parameters() if p.grad is not None)


@pytest.mark.parametrize("name,dims", CASES)
def test_sample_with_neither_modality_raises(name, dims):
    inputs = _inputs(dims)
    inputs["image_present"][2] = 0
    inputs["table_present"][2] = 0
    with pytest.raises(ValueError, match="neither"):
        _call(_fusion(name, dims), inputs)


@pytest.mark.parametrize("name,dims", CASES)
def test_deterministic_by_seed(name, dims):
    inputs = _inputs(dims, "mixed")
    a, b = _fusion(name, dims, seed=3).eval(), _fusion(name, dims, seed=3).eval()
    torch.testing.assert_close(_call(a, inputs), _call(b, inputs))
    c = _fusion(name, dims, seed=4).eval()
    assert not torch.allclose(_call(a, inputs), _call(c, inputs))


def test_unknown_name_lists_registered_names():
    with pytest.raises(UnknownFusionError) as info:
        create_fusion("no_such_fusion", image_dim=2, table_dim=2, out_dim=2)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    for name in list_fusions():
        assert name in str(info.value)


@pytest.mark.parametrize("dims", (2, 3))
@pytest.mark.parametrize("name", [n for n in list_fusions() if create_fusion(
    n, image_dim=2, table_dim=2, out_dim=2, **TINY[n]).needs_image_map])
def test_image_map_rules(name, dims):
    fusion = _fusion(name, dims).eval()
    inputs = _inputs(dims, "mixed")
    inputs.pop("image_map")
    with pytest.raises(ValueError, match="image_map"):  # an image is present but no map
        _call(fusion, inputs)
    inputs["image_present"] = torch.zeros(B)
    inputs["table_present"] = torch.ones(B)
    assert _call(fusion, inputs).shape == (B, OUT_DIM)  # no image at all: the table path alone
    wrong = _inputs(5 - dims)  # 3D map for a 2D fusion and vice versa
    with pytest.raises(ValueError, match="image_map"):
        _call(fusion, wrong)


def test_late_average_and_gated_attention_single_modality():
    inputs = _inputs(2, "mixed")
    late = _fusion("late_average", 2).eval()
    out = _call(late, inputs)
    torch.testing.assert_close(out[1], late.table_head(inputs["table_features"][1]))
    torch.testing.assert_close(out[2], late.image_head(inputs["image_features"][2]))
    torch.testing.assert_close(out[0], (late.table_head(inputs["table_features"][0])
                                        + late.image_head(inputs["image_features"][0])) / 2)
    gated = _fusion("gated_attention", 2).eval()
    _call(gated, inputs)
    assert gated.last_weights[1].tolist() == [0.0, 1.0] and gated.last_weights[2].tolist() == [1.0, 0.0]
    torch.testing.assert_close(gated.last_weights.sum(1), torch.ones(B))


def test_cross_attention_without_tokens_and_token_dim_check():
    inputs = _inputs(3, "mixed")
    inputs.pop("table_tokens")
    plain = create_fusion("cross_attention", image_dim=IMAGE_DIM, table_dim=TABLE_DIM, out_dim=OUT_DIM,
                          d_model=8, num_heads=2)
    assert _call(plain, inputs).shape == (B, OUT_DIM)  # the table vector as the only query token
    with pytest.raises(ValueError, match="token_dim"):
        _call(plain, {**inputs, "table_tokens": torch.randn(B, N_ATTR, TOKEN_DIM)})


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_dim"):
        create_fusion("concat", image_dim=0, table_dim=2, out_dim=2)
    with pytest.raises(ValueError, match="spatial_dims"):
        create_fusion("daft", image_dim=2, table_dim=2, out_dim=2, spatial_dims=4)
    with pytest.raises(ValueError, match="num_heads"):
        create_fusion("cross_attention", image_dim=2, table_dim=2, out_dim=2, d_model=6, num_heads=4)
    fusion = create_fusion("concat", image_dim=2, table_dim=2, out_dim=2)
    with pytest.raises(ValueError, match="table_features"):
        fusion(torch.zeros(2, 2), torch.zeros(2, 3), image_present=torch.ones(2), table_present=torch.ones(2))
    with pytest.raises(ValueError, match="image_present"):
        fusion(torch.zeros(2, 2), torch.zeros(2, 2), image_present=torch.ones(3), table_present=torch.ones(2))
