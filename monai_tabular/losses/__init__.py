# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""Losses: each returns a dict of named terms that the trainer weights and logs."""

from monai_tabular.losses.cfcml import (CCRM_TERMS, DEFAULT_CCRM_WEIGHTS, CFCMLLoss, ccrm_logits, ccrm_terms,
                                        prototype_contrastive_loss, sample_contrastive_loss)
from monai_tabular.losses.charms import (CharmsLoss, alignment_cost, attribute_similarities, cluster_similarities,
                                         expand_plan, transport_plan)
from monai_tabular.losses.citab import CITabPretrainLoss, itc_loss, itm_loss, sample_hard_negatives
from monai_tabular.losses.contrastive import paired_info_nce
from monai_tabular.losses.focal import focal_loss
from monai_tabular.losses.gaal import (gradient_surgery, hard_sample_count, hard_samples, predictive_entropy,
                                       surgery_coefficients)
from monai_tabular.losses.mtcmtm import MTCMTMLoss, info_nce
from monai_tabular.losses.survival import (cox_partial_likelihood, discretize_times, logistic_hazard_loss,
                                           survival_from_hazard_logits)
from monai_tabular.losses.task import TaskLoss

__all__ = ["TaskLoss", "CFCMLLoss", "DEFAULT_CCRM_WEIGHTS", "CCRM_TERMS", "ccrm_terms", "ccrm_logits",
           "sample_contrastive_loss", "prototype_contrastive_loss", "CharmsLoss", "alignment_cost",
           "attribute_similarities", "cluster_similarities", "transport_plan", "expand_plan", "gradient_surgery",
           "surgery_coefficients", "predictive_entropy", "hard_samples", "hard_sample_count", "CITabPretrainLoss",
           "paired_info_nce", "itc_loss", "itm_loss", "sample_hard_negatives", "MTCMTMLoss", "info_nce", "focal_loss", "cox_partial_likelihood", "logistic_hazard_loss", "discretize_times", "survival_from_hazard_logits"]
