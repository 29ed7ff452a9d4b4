# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""Losses: each returns a dict of named terms that the trainer weights and logs."""

from monai_tabular.losses.task import TaskLoss

__all__ = ["TaskLoss"]
