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
"""Two gloo processes compute what one process computes on the whole batch: row gathering, contrastive
negatives (loss and gradients), CFCML class prototypes and the CHARMS channel-attribute alignment."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from monai_tabular.engines.charms import ChannelAttributeRealignment
from monai_tabular.losses.contrastive import paired_info_nce
from monai_tabular.networks.cfcml import CFCMLNet
from monai_tabular.networks.charms import CharmsNet
from monai_tabular.utils.distributed import (all_reduce_sum, average_gradients, gather_rows, gather_with_grad,
                                             is_distributed, rank_and_world)
from tests.bundles.bundle_helpers import spawn_gloo

WORLD = 2
BATCH = 8  # global contrastive batch: 4 rows per process



def _pairs():
    generator = torch.Generator().manual_seed(0)
    first = torch.randn(BATCH, 6, generator=generator)
    return first, first + 0.5 * torch.randn(BATCH, 6, generator=generator)


def _prototype_batches():
    generator = torch.Generator().manual_seed(1)
    features = [torch.randn(BATCH, 4, generator=generator) for _ in range(2)]
    labels = [torch.tensor([0, 1, 1, 0, 1, 1, 1, 0]), torch.tensor([1, 1, 1, 1, 0, 1, 1, 1])]
    return features, labels


def _cfcml():
    return CFCMLNet(spatial_dims=2, in_channels=1, out_channels=2, n_attributes=1, image_size=[32, 32],
                    variant="table_only", d_model=4, n_heads=1, text_cache_dir=False)


def _charms_setup():
    torch.manual_seed(0)
    net = CharmsNet(spatial_dims=2, in_channels=1, n_numerical=2, cardinalities=[3], out_channels=2,
                    image_encoder="resnet10", image_encoder_args={"width_factor": 0.125})
    generator = torch.Generator().manual_seed(2)
    n = 11  # odd: the two processes get shards of different lengths
    samples = [{"image": torch.randn(1, 16, 16, generator=generator), "numerical": torch.randn(2, generator=generator),
                "numerical_mask": torch.ones(2), "categorical": torch.randint(1, 3, (1,), generator=generator),
                "categorical_mask": torch.ones(1)} for _ in range(n)]
    loader = torch.utils.data.DataLoader(samples, batch_size=4)
    return ChannelAttributeRealignment(network=net, data_loader=loader, n_clusters=4)


def _worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        results = {"rank_and_world": rank_and_world(), "is_distributed": is_distributed()}
        # rows: shards of 2 and 3 rows, gathered in rank order; the gradient is the sum over processes
        rows = torch.arange(rank * 10.0, rank * 10.0 + 2 + rank).unsqueeze(1).requires_grad_()
        gathered, start = gather_with_grad(rows)
        (gathered.squeeze(1) * torch.arange(1.0, 6.0)).sum().backward()
        results.update(gathered=gathered.detach(), start=start, row_grad=rows.grad, plain=gather_rows(rows),
                       summed=all_reduce_sum(torch.tensor([rank + 1.0])))
        # contrastive negatives from both processes
        first, second = (t[rank * 4:(rank + 1) * 4].clone().requires_grad_() for t in _pairs())
        loss = paired_info_nce(first, second, temperature=0.2)
        loss.backward()
        results.update(loss=loss.detach(), first_grad=first.grad, second_grad=second.grad)
        # gradient averaging for steps outside DDP
        layer = torch.nn.Linear(3, 1)
        torch.nn.init.ones_(layer.weight)
        layer(torch.full((1, 3), float(rank + 1))).sum().backward()
        average_gradients(layer.parameters())
        results["averaged_grad"] = layer.weight.grad
        # class prototypes from both processes' samples
        net = _cfcml()
        for features, labels in zip(*_prototype_batches()):
            net.update_prototypes(None, features[rank::WORLD], labels[rank::WORLD])
        results.update(prototypes=net.table_prototypes.clone(), counts=net.prototype_counts.clone())
        # CHARMS: each process encodes every second subset sample; the alignment is the single-process one
        hook = _charms_setup()
        encode, encoded = hook.network.channel_activations, []
        hook.network.channel_activations = lambda image: encoded.append(image.shape[0]) or encode(image)
        results["collected"] = hook.collect()
        results["encoded"] = sum(encoded)
        results["alignment"] = hook.realign(1).weights
        torch.save(results, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    return spawn_gloo(_worker, tmp_path_factory.mktemp("ddp"), world=WORLD)


def test_single_process_helpers_are_the_identity():
    assert rank_and_world() == (0, 1) and not is_distributed()
    rows = torch.ones(3, 2, requires_grad=True)
    gathered, start = gather_with_grad(rows)
    assert gathered is rows and start == 0
    assert gather_rows(rows) is rows and all_reduce_sum(rows) is rows


def test_rows_are_gathered_in_rank_order_with_summed_gradients(two_processes):
    expected = torch.tensor([0.0, 1.0, 10.0, 11.0, 12.0]).unsqueeze(1)
    for rank, result in enumerate(two_processes):
        assert result["rank_and_world"] == (rank, WORLD) and result["is_distributed"]
        torch.testing.assert_close(result["gathered"], expected)
        torch.testing.assert_close(result["plain"], expected)
        assert result["start"] == [0, 2][rank]
        torch.testing.assert_close(result["summed"], torch.tensor([3.0]))
    # both processes' losses weight row j by j + 1: each shard's gradient is twice its weights
    torch.testing.assert_close(two_processes[0]["row_grad"].squeeze(1), torch.tensor([2.0, 4.0]))
    torch.testing.assert_close(two_processes[1]["row_grad"].squeeze(1), torch.tensor([6.0, 8.0, 10.0]))


def test_contrastive_loss_and_gradients_equal_the_single_process_ones(two_processes):
    first, second = (t.clone().requires_grad_() for t in _pairs())
    loss = paired_info_nce(first, second, temperature=0.2)
    loss.backward()
    mean_loss = sum(result["loss"] for result in two_processes) / WORLD
    torch.testing.assert_close(mean_loss, loss.detach())
    # DDP averages over processes: the averaged gradient of each shard is the single-process gradient
    for rank, result in enumerate(two_processes):
        rows = slice(rank * 4, (rank + 1) * 4)
        torch.testing.assert_close(result["first_grad"] / WORLD, first.grad[rows])
        torch.testing.assert_close(result["second_grad"] / WORLD, second.grad[rows])
    # the negatives come from the other process too: a loss on one shard alone differs
    alone = paired_info_nce(first[:4].detach(), second[:4].detach(), temperature=0.2)
    assert not torch.isclose(alone, two_processes[0]["loss"])


def test_gradients_are_averaged(two_processes):
    for result in two_processes:
        torch.testing.assert_close(result["averaged_grad"], torch.full((1, 3), 1.5))


def test_class_prototypes_equal_the_single_process_ones(two_processes):
    net = _cfcml()
    for features, labels in zip(*_prototype_batches()):
        net.update_prototypes(None, features, labels)
    for result in two_processes:
        torch.testing.assert_close(result["prototypes"], net.table_prototypes)
        torch.testing.assert_close(result["counts"], net.prototype_counts)


def test_charms_alignment_equals_the_single_process_one(two_processes):
    hook = _charms_setup()
    collected = hook.collect()
    weights = hook.realign(1).weights
    assert [result["encoded"] for result in two_processes] == [6, 5]  # each process encodes its shard only
    for result in two_processes:
        assert set(result["collected"]) == set(collected)
        for key, value in collected.items():
            torch.testing.assert_close(result["collected"][key], value)
        torch.testing.assert_close(result["alignment"], weights)
