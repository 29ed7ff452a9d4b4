# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""Ignite trainers/evaluators on MONAI's, ``prepare_batch`` and experiment set-up."""

from monai_tabular.engines.evaluator import EVAL_MODES, TabularEvaluator
from monai_tabular.engines.folds import MODEL_MODES, RunSpec, run_bundle, run_folds, run_specs
from monai_tabular.engines.prepare_batch import PrepareTabularBatch, to_device
from monai_tabular.engines.setup import (FoldData, TrainedRun, load_json, load_run, prepare_fold, prepare_inference, probe_image, probe_shape,
                                         save_json)
from monai_tabular.engines.trainer import TabularTrainer, combine_loss_terms

__all__ = ["EVAL_MODES", "TabularEvaluator", "PrepareTabularBatch", "to_device", "FoldData", "prepare_fold",
           "probe_image", "TabularTrainer", "combine_loss_terms", "load_json", "prepare_inference", "probe_shape",
           "save_json", "TrainedRun", "load_run", "MODEL_MODES", "RunSpec", "run_bundle", "run_folds", "run_specs"]
