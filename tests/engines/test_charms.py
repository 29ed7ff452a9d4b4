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
"""CHARMS alignment (K-Means + OT), the epoch re-alignment hook, its artefacts, and the table-free data list."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from ignite.engine import Engine

from monai_tabular.engines.charms import (ChannelAttributeRealignment, align_channels, alignment_subset,
                                          check_method, cluster_channels, image_only_datalist)
from monai_tabular.networks.charms import CharmsNet


def _planted(n=96, per=8, seed=0, transport="emd"):
    """Two numerical and two categorical attributes, each written into its own block of 8 channels."""
    generator = torch.Generator().manual_seed(seed)
    numerical = torch.randn(n, 2, generator=generator)
    categorical = torch.randint(1, 4, (n, 2), generator=generator)
    activations = torch.rand(n, 4 * per, generator=generator)
    signals = [numerical[:, 0], numerical[:, 1], categorical[:, 0].float(), categorical[:, 1].float()]
    for block, signal in enumerate(signals):
        activations[:, block * per:(block + 1) * per] += 2.0 * signal.unsqueeze(1)
    activations = activations[:, torch.randperm(4 * per, generator=generator)]  # blocks need not be contiguous
    return activations, numerical, categorical


def _block_of_channels(activations, numerical, categorical):
    signals = torch.stack([numerical[:, 0], numerical[:, 1], categorical[:, 0].float(), categorical[:, 1].float()], 1)
    correlation = torch.corrcoef(torch.cat([signals, activations], 1).t())[:4, 4:]
    return correlation.argmax(0)  # the attribute each channel was planted with


@pytest.mark.parametrize("transport", ["emd", "partial", "sinkhorn"])
def test_planted_channel_attribute_relation_is_recovered(transport):
    activations, numerical, categorical = _planted()
    owner = _block_of_channels(activations, numerical, categorical)
    alignment = align_channels(activations, numerical=numerical, numerical_mask=torch.ones_like(numerical),
                               categorical=categorical, categorical_mask=torch.ones_like(categorical).float(),
                               n_clusters=4, transport=transport, partial_mass=0.9, sinkhorn_reg=0.05,
                               attribute_names=["a", "b", "c", "d"])
    for attribute in range(4):
        weights = alignment.weights[attribute]
        own, others = weights[owner == attribute], weights[owner != attribute]
        assert own.mean() > 0.9 and own.mean() > others.mean() + 0.5, (attribute, own, others)


def test_constant_and_fully_missing_attributes_are_dropped_with_a_warning():
    activations, numerical, categorical = _planted()
    numerical = torch.cat([numerical, torch.full((96, 1), 3.0), torch.randn(96, 1)], 1)
    numerical_mask = torch.ones_like(numerical)
    numerical_mask[:, 3] = 0
    names = ["a", "b", "flat_value", "never_measured", "c", "d"]
    with pytest.warns(UserWarning) as caught:
        alignment = align_channels(activations, numerical=numerical, numerical_mask=numerical_mask,
                                   categorical=categorical, n_clusters=4, attribute_names=names)
    messages = " ".join(str(w.message) for w in caught)
    assert "'flat_value' is constant" in messages and "'never_measured' is fully missing" in messages
    assert alignment.active.tolist() == [True, True, False, False, True, True]
    assert alignment.weights[2:4].abs().sum() == 0 and alignment.plan.shape == (4, 4)
    assert set(alignment.dropped) == {"flat_value", "never_measured"}


def test_more_clusters_than_channels_is_an_error():
    with pytest.raises(ValueError, match=r"n_clusters C'=9 is larger than the C=8 channels"):
        cluster_channels(torch.randn(10, 8), 9)
    net = CharmsNet(spatial_dims=2, in_channels=1, n_numerical=1, cardinalities=[], out_channels=2,
                    image_encoder="resnet10", image_encoder_args={"width_factor": 0.125})
    with pytest.raises(ValueError, match=f"larger than the C={net.channels} channels"):
        ChannelAttributeRealignment(network=net, data_loader=[], n_clusters=net.channels + 1)


@pytest.mark.parametrize("kind", ["numerical", "categorical"])
def test_single_kind_tables_align(kind):
    activations, numerical, categorical = _planted()
    table = {"numerical": numerical} if kind == "numerical" else {"categorical": categorical}
    alignment = align_channels(activations, **table, n_clusters=4)
    assert alignment.weights.shape == (2, 32) and alignment.active.all()


def test_clusters_are_relabelled_without_gaps():
    activations = torch.zeros(20, 8)  # dead channels: fewer distinct profiles than clusters
    activations[:, 0] = torch.arange(20.0)
    labels = cluster_channels(activations, 4)
    assert sorted(set(labels.tolist())) == list(range(len(set(labels.tolist()))))


def _loader(n=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 1, 16, 16, generator=generator)
    numerical = torch.randn(n, 2, generator=generator)
    categorical = torch.randint(1, 3, (n, 1), generator=generator)
    return [{"image": images[i:i + 4], "numerical": numerical[i:i + 4], "numerical_mask": torch.ones(4, 2),
             "categorical": categorical[i:i + 4], "categorical_mask": torch.ones(4, 1)} for i in range(0, n, 4)]


def test_realignment_hook_runs_every_k_epochs_and_writes_artefacts(tmp_path):
    torch.manual_seed(0)
    net = CharmsNet(spatial_dims=2, in_channels=1, n_numerical=2, cardinalities=[3], out_channels=2,
                    image_encoder="resnet10", image_encoder_args={"width_factor": 0.125}).train()
    hook = ChannelAttributeRealignment(network=net, data_loader=_loader(), align_every=2, n_clusters=4,
                                       attribute_names=["age", "volume", "site"], output_dir=tmp_path / "alignment")
    engine = Engine(lambda engine, batch: None)
    hook.attach(engine)
    engine.run([0], max_epochs=4)
    assert len(hook.history) == 2  # epochs 1 and 3
    written = sorted(p.name for p in (tmp_path / "alignment").iterdir())
    assert written == ["alignment_epoch001.json", "alignment_epoch001.png", "alignment_epoch003.json",
                       "alignment_epoch003.png"]
    content = json.loads((tmp_path / "alignment" / "alignment_epoch003.json").read_text())
    assert content["epoch"] == 3 and content["attributes"] == ["age", "volume", "site"]
    assert set(content["attribute_to_channels"]) == {"age", "volume", "site"}
    assert np.asarray(content["plan"]).shape == (3, 4)
    assert len(content["channel_cluster"]) == net.channels
    torch.testing.assert_close(net.alignment, hook.history[-1].weights)
    assert net.training  # the hook restores the training state


def test_alignment_subset_is_fixed_and_from_the_given_records():
    records = [{"subject_id": str(i)} for i in range(50)]
    first, second = alignment_subset(records, n_samples=10, seed=3), alignment_subset(records, n_samples=10, seed=3)
    assert first == second and len(first) == 10 and all(r in records for r in first)
    assert len(alignment_subset(records[:5], n_samples=10)) == 5
    with pytest.raises(ValueError, match="at least 2"):
        alignment_subset(records, n_samples=1)


def test_image_only_datalist_needs_no_table(tmp_path):
    from monai_tabular.data import TableSchema

    frame = pd.DataFrame({"subject_id": ["s1", "s2", "s3"], "image": ["a.png", "b.png", "c.png"],
                          "age": ["50", "60", "70"], "label": ["x", "y", "x"]})
    schema = TableSchema.from_table(frame, {"subject_id": "subject_id", "label": "label", "image": ["image"],
                                            "numerical": ["age"]}).fit(frame)
    schema.save(tmp_path / "schema.json")
    frame[["subject_id", "image"]].to_csv(tmp_path / "new.csv", index=False)
    records = image_only_datalist(csv=tmp_path / "new.csv", run_dir=tmp_path, check_images="none")
    assert [r["subject_id"] for r in records] == ["s1", "s2", "s3"]
    assert all("table" not in r and "label" not in r and r["image"].endswith(".png") for r in records)


def test_check_method():
    assert check_method("charms") == "charms"
    with pytest.raises(ValueError, match="method must be one of"):
        check_method("distill")
