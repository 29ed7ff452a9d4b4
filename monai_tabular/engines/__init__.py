# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""Ignite trainers/evaluators on MONAI's, ``prepare_batch`` and experiment set-up."""

from monai_tabular.engines.baselines import SKLEARN_METHODS
from monai_tabular.engines.benchmark import load_plan, run_plan, write_results_page
from monai_tabular.engines.cfcml import train_sampler
from monai_tabular.engines.charms import (ChannelAttributeRealignment, align_channels, alignment_subset,
                                          image_only_datalist, write_alignment)
from monai_tabular.engines.citab import CITabPretrainedLoader, CITabPretrainForward, load_citab_pretrained
from monai_tabular.engines.evaluator import EVAL_MODES, TabularEvaluator, validation_threshold
from monai_tabular.engines.explain import explain_run, write_explanation_report
from monai_tabular.engines.gaal import GAALStep, plot_gradient_history
from monai_tabular.engines.mtcmtm import PretrainedTableEncoderLoader, prepare_table_inference
from monai_tabular.engines.folds import MODEL_MODES, RunSpec, run_bundle, run_folds, run_specs
from monai_tabular.engines.prepare_batch import PrepareTabularBatch, to_device
from monai_tabular.engines.setup import (FoldData, check_flags, TrainedRun, balanced_sampler, drop_modalities, load_json, load_run,
                                         mark_modalities, prepare_fold, prepare_inference, probe_image, probe_shape,
                                         save_json)
from monai_tabular.engines.trainer import TabularTrainer, combine_loss_terms

__all__ = ["check_flags", "EVAL_MODES", "TabularEvaluator", "PrepareTabularBatch", "to_device", "FoldData", "prepare_fold",
           "probe_image", "TabularTrainer", "combine_loss_terms", "load_json", "prepare_inference", "probe_shape",
           "save_json", "TrainedRun", "load_run", "MODEL_MODES", "RunSpec", "run_bundle", "run_folds", "run_specs", "load_plan", "run_plan",
           "write_results_page", "train_sampler", "ChannelAttributeRealignment", "align_channels", "alignment_subset",
           "image_only_datalist", "write_alignment", "explain_run", "write_explanation_report", "GAALStep",
           "plot_gradient_history", "SKLEARN_METHODS", "CITabPretrainedLoader", "CITabPretrainForward", "load_citab_pretrained",
           "PretrainedTableEncoderLoader", "prepare_table_inference", "validation_threshold", "balanced_sampler", "drop_modalities", "mark_modalities"]
