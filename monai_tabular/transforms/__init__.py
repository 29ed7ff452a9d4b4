# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""MONAI MapTransforms for table rows."""

from monai_tabular.transforms.cross_table import EncodeCrossTabled
from monai_tabular.transforms.marginals import TableMarginals
from monai_tabular.transforms.table import (
    AttributeSentencesd,
    CorruptTabled,
    EncodeLabeld,
    EncodeTabled,
    RandMaskAttributesd,
    format_value,
    load_schema,
)

__all__ = ["EncodeCrossTabled", "AttributeSentencesd", "CorruptTabled", "EncodeLabeld", "EncodeTabled", "RandMaskAttributesd",
           "TableMarginals", "format_value", "load_schema"]
