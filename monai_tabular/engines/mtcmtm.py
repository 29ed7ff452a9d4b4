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
"""MT-CMTM engine hook: load a pretrained table encoder for fine-tuning, and table-only inference data lists."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from ignite.engine import Engine, Events

from monai_tabular.data import TableSchema, build_datalist, read_table
from monai_tabular.handlers.checkpoint import CheckpointLoadError
from monai_tabular.handlers.pretrained import load_matching_weights

__all__ = ["PretrainedTableEncoderLoader", "prepare_table_inference"]

logger = logging.getLogger(__name__)


class PretrainedTableEncoderLoader:
    """Ignite handler: when training starts from epoch 0, load the ``table_encoder.*`` weights of an MT-CMTM
    pretraining checkpoint; every encoder tensor must load (same schema, same encoder arguments), else it fails
    naming the tensors that did not. An empty ``load_path`` trains from scratch.

    Args:
        load_path: pretraining ``model.pt`` ("" or ``None``: from scratch).
        network: the downstream model (``MTCMTMTableModel``).
        prefix: parameter prefix of the encoder in both networks.

    Example:
        >>> loader = PretrainedTableEncoderLoader(load_path="runs/pretrain/fold0/model.pt", network=net)  # doctest: +SKIP
        >>> loader.attach(trainer)                                                                      # doctest: +SKIP
    """

    def __init__(self, *, load_path: str | Path | None, network: torch.nn.Module,
                 prefix: str = "table_encoder.") -> None:
        self.load_path = None if load_path in (None, "") else Path(load_path)
        self.network, self.prefix = network, prefix
        self.report: dict[str, list[str]] | None = None

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine | None = None) -> None:
        if self.load_path is None or (engine is not None and engine.state.epoch != 0):
            return
        report = load_matching_weights(self.network, self.load_path)
        missed = [k for k in report["new"] if k.startswith(self.prefix)]
        loaded = [k for k in report["loaded"] if k.startswith(self.prefix)]
        if missed or not loaded:
            raise CheckpointLoadError(f"{self.load_path}: the pretrained table encoder does not fit this network "
                                      f"({len(loaded)} tensors loaded; not loadable: {missed[:8]}). Use the schema "
                                      "and table_encoder(_args) of the pretraining run")
        logger.info("loaded the pretrained table encoder (%d tensors) from %s", len(loaded), self.load_path)
        self.report = report


def prepare_table_inference(*, run_dir: str | Path, csv: str | Path | None = None,
                            records: Sequence[dict] | None = None) -> list[dict]:
    """Data list for table-only inference: ``{"subject_id", "table"}`` records, no image key at all.

    Reads ``csv`` (image columns may be absent or empty; they are not read) against the run's ``schema.json``, or
    passes ``records`` (dicts with ``"table"``) through after checking them.

    Example:
        >>> records = prepare_table_inference(run_dir="runs/fold0", csv="new_patients.csv")   # doctest: +SKIP
    """
    schema = TableSchema.load(Path(run_dir) / "schema.json")
    if records is not None:
        for position, record in enumerate(records):
            if not isinstance(record, dict) or not isinstance(record.get("table"), dict):
                keys = sorted(record) if isinstance(record, dict) else []
                raise ValueError(f"inference record {position} needs a 'table' dict of the row's cells; got "
                                 f"{type(record).__name__} with keys {keys}")
        return [dict(r, subject_id=str(r.get("subject_id", f"row-{i}"))) for i, r in enumerate(records)]
    if not csv:
        raise ValueError("table inference needs csv= (a table file) or records= (a list of rows)")
    table = read_table(csv)
    filled = table.assign(**{name: float("nan") for name in schema.images if name not in table.columns})
    filled.attrs = dict(table.attrs)
    result = build_datalist(filled, schema, image_root=Path(csv).parent, check_images="none",
                            allow_missing_images=True, require_labels=False)
    return [{k: v for k, v in r.items() if k not in (*schema.images, "image")} for r in result]
