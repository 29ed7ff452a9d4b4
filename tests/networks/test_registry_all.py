# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""Every registered encoder, through the registry: shapes, gradients, determinism, masked-cell invariance.

A newly registered encoder must add its tiny test configuration to ``TINY`` (the first test fails otherwise).
"""

from __future__ import annotations

import pytest
import torch

from monai_tabular.networks import create_encoder, list_encoders

torch.set_num_threads(1)

N_NUM, CARDS = 3, [3, 4]
TINY = {  # name -> (constructor kwargs, 2D input size, 3D input size)
    "resnet10": ({"width_factor": 0.125}, (32, 32), (16, 16, 16)),
    "resnet18": ({"width_factor": 0.125}, (32, 32), (16, 16, 16)),
    "resnet34": ({"width_factor": 0.125}, (32, 32), (16, 16, 16)),
    "resnet50": ({"width_factor": 0.125}, (32, 32), (16, 16, 16)),
    "swin_t": ({"embed_dim": 12, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 2, 2]}, (32, 32), (16, 16, 16)),
    "nnmamba": ({"base_channels": 4}, (32, 32), (16, 16, 16)),
    "mlp": ({"hidden_dims": [16]}, None, None),
    "ft_transformer": ({"d_token": 8, "n_blocks": 1, "n_heads": 2}, None, None),
    "resnet1d_cbam": ({"embedding_dim": 8, "channels": [8, 8]}, None, None),
    "sat": ({"d_model": 8, "n_blocks": 1, "n_heads": 2, "n_prototypes": 2,
             "header_embeddings": torch.randn(N_NUM + len(CARDS), 6, generator=torch.Generator().manual_seed(0)).tolist()},
            None, None),
}
IMAGE_CASES = [(n, d) for n in list_encoders("image") for d in (2, 3)]
TABLE_CASES = list_encoders("table")


def test_every_registered_encoder_has_a_tiny_configuration():
    assert sorted(set(list_encoders()) - set(TINY)) == []


def _image_encoder(name, dims, seed=0):
    torch.manual_seed(seed)
    kwargs, size2, size3 = TINY[name]
    encoder = create_encoder(name, spatial_dims=dims, in_channels=1, **kwargs)
    return encoder, torch.randn(2, 1, *(size2 if dims == 2 else size3), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name,dims", IMAGE_CASES)
def test_image_encoder_interface(name, dims):
    encoder, x = _image_encoder(name, dims)
    again, _ = _image_encoder(name, dims)
    encoder.eval(), again.eval()
    torch.testing.assert_close(encoder(x), again(x))  # same seed, same network
    encoder.train()
    stages = encoder.forward_features(x)
    assert len(stages) == len(encoder.stage_dims)
    for stage, channels in zip(stages, encoder.stage_dims):
        assert stage.shape[:2] == (2, channels) and stage.ndim == 2 + dims
    pooled = encoder(x)
    assert pooled.shape == (2, encoder.feature_dim)
    pooled.square().mean().backward()
    silent = [n for n, p in encoder.named_parameters() if p.requires_grad and p.grad is None]
    assert silent == []


def _table_encoder(name, seed=0):
    torch.manual_seed(seed)
    return create_encoder(name, n_numerical=N_NUM, cardinalities=CARDS, **TINY[name][0])


def _table(seed=0, batch=4):
    g = torch.Generator().manual_seed(seed)
    mask_n = (torch.rand(batch, N_NUM, generator=g) > 0.3).float()
    mask_c = (torch.rand(batch, len(CARDS), generator=g) > 0.3).float()
    categorical = torch.stack([torch.randint(1, c, (batch,), generator=g) for c in CARDS], 1)
    return {"numerical": torch.randn(batch, N_NUM, generator=g) * mask_n, "numerical_mask": mask_n,
            "categorical": categorical * mask_c.long(), "categorical_mask": mask_c}


@pytest.mark.parametrize("name", TABLE_CASES)
def test_table_encoder_interface_and_missing_cells(name):
    encoder = _table_encoder(name)
    table = _table()
    again = _table_encoder(name)
    encoder.eval(), again.eval()
    torch.testing.assert_close(again(**table), encoder(**table))  # same seed, same network
    encoder.train()
    out = encoder(**table)
    assert out.shape == (4, encoder.feature_dim)
    assert isinstance(encoder.forward_features(**table), list)
    out.square().mean().backward()
    assert [n for n, p in encoder.named_parameters() if p.requires_grad and p.grad is None] == []
    encoder.eval()
    reference = encoder(**table)
    garbage = dict(table)
    garbage["numerical"] = torch.where(table["numerical_mask"] > 0, table["numerical"], torch.full_like(
        table["numerical"], 123.0))
    garbage["categorical"] = torch.where(table["categorical_mask"] > 0, table["categorical"],
                                         torch.ones_like(table["categorical"]))
    torch.testing.assert_close(encoder(**garbage), reference)  # a masked cell's stored value has no effect
