# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""monai_tabular: learning from medical images together with each patient's clinical table, on MONAI."""

__version__ = "0.1.0"
