# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""Ignite handlers: per-epoch seeding, safe checkpoint loading, epoch metrics and prediction writing."""

from monai_tabular.handlers.checkpoint import CheckpointLoadError, SafeCheckpointLoader, load_checkpoint, read_state_dict
from monai_tabular.handlers.metrics import (EpochMetrics, PredictionWriter, all_metrics, key_metric, scores_from_logits,
                                            survival_scores)
from monai_tabular.handlers.pretrained import PretrainedWeightsLoader, load_matching_weights
from monai_tabular.handlers.run_files import MetricsJSONWriter, ResumableCheckpoint, StopAfterEpoch, write_run_summary
from monai_tabular.handlers.seed import EpochSeedHandler
from monai_tabular.handlers.survival import write_risk_group_plot

__all__ = ["CheckpointLoadError", "SafeCheckpointLoader", "load_checkpoint", "EpochMetrics", "PredictionWriter",
           "scores_from_logits", "EpochSeedHandler", "MetricsJSONWriter", "ResumableCheckpoint",
           "all_metrics", "key_metric", "write_run_summary", "PretrainedWeightsLoader", "StopAfterEpoch",
           "load_matching_weights", "survival_scores", "write_risk_group_plot", "read_state_dict"]
