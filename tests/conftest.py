# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""Shared fixtures: small synthetic cohorts (3D NIfTI and 2D PNG) built once per test session."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# caches (text embeddings, mfeat PNGs, synthetic cohorts) go to a throw-away folder, not the user's home
os.environ.setdefault("MONAI_TABULAR_CACHE", tempfile.mkdtemp(prefix="monai_tabular_cache_"))
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def cohort3d(tmp_path_factory):
    from monai_tabular.data.synthetic import make_synthetic_cohort

    return make_synthetic_cohort(tmp_path_factory.mktemp("cohort3d"), n_subjects=24, spatial_dims=3,
                                 image_size=(16, 16, 16), seed=0)


@pytest.fixture(scope="session")
def cohort2d(tmp_path_factory):
    from monai_tabular.data.synthetic import make_synthetic_cohort

    return make_synthetic_cohort(tmp_path_factory.mktemp("cohort2d"), n_subjects=24, spatial_dims=2,
                                 image_size=(32, 32), seed=1)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests run single-threaded: on the 2-core CI machine this is faster and makes timings steadier."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
