# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""The baseline bundle accepts every registered encoder by name: one epoch of each on tiny synthetic data."""

from __future__ import annotations

import pytest

from monai_tabular.networks import list_encoders
from tests.bundles.bundle_helpers import run, tiny
from tests.networks.test_registry_all import TINY


@pytest.mark.parametrize("name", list_encoders("image"))
def test_image_encoder_by_name(name, tmp_path):
    args = {k: v for k, v in TINY[name][0].items()}
    overrides = tiny(tmp_path, epochs=1, model="image", image_encoder=name, image_encoder_args=args,
                     image_size=[32, 32])
    overrides["synthetic"]["image_size"] = [32, 32]
    run(["train.json"], overrides)
    assert (tmp_path / "runs" / "fold0" / "model.pt").is_file()


@pytest.mark.parametrize("name", list_encoders("table"))
def test_table_encoder_by_name(name, tmp_path):
    args = {k: v for k, v in TINY[name][0].items() if k != "header_embeddings"}  # sat embeds the real headers
    run(["train.json"], tiny(tmp_path, epochs=1, model="fusion", table_encoder=name, table_encoder_args=args))
    assert (tmp_path / "runs" / "fold0" / "model.pt").is_file()
