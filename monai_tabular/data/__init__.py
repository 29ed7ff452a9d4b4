# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
"""Table schema, paired image + table data lists, subject-wise splits, synthetic cohort, real-data recipes."""

from monai_tabular.data.cross_table import (CachedImages, CrossTableData, cell_texts, collate_cross_table,
                                           encode_cells, header_vocabulary, label_subset, prepare_cross_table)
from monai_tabular.data.datalist import build_datalist, check_image
from monai_tabular.data.errors import ImageDataError, SchemaError, SplitError, TableDataError
from monai_tabular.data.schema import ColumnSchema, TableSchema, canonical_category
from monai_tabular.data.table import is_missing, read_table

__all__ = ["prepare_cross_table", "CrossTableData", "header_vocabulary", "cell_texts", "encode_cells",
           "collate_cross_table", "label_subset", "CachedImages", "build_datalist", "check_image", "ImageDataError", "SchemaError", "SplitError", "TableDataError",
           "ColumnSchema", "TableSchema", "canonical_category", "is_missing", "read_table"]
