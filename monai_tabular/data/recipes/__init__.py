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
"""Ready-made image + table recipes for the three real data sets in ``../shared/data``.

A recipe bundles, for one task on one data set, the subject table (all cells as strings), the
table-schema spec that names the role of every column, the official or a reproducible split, and
the folder the image paths are relative to.

The data itself is never copied into the project: it is read from the data root (see
:func:`resolve_data_root`). The only files a recipe writes are the mfeat digit PNGs, into a cache
folder outside the data root.

Modules: :mod:`.base` (:class:`Recipe`, data root, registry, shared helpers), :mod:`.ixi`,
:mod:`.derm7pt` and :mod:`.mfeat` (one loader each).

Example:
    >>> from monai_tabular.data.recipes import load_recipe, describe
    >>> recipe = load_recipe("ixi_t1_hh", task="sex")  # doctest: +SKIP
    >>> print(describe(recipe=recipe))  # doctest: +SKIP
    >>> items = recipe.datalist(check_images="exists")  # doctest: +SKIP
"""

from __future__ import annotations

from monai_tabular.data.recipes.base import (
    CACHE_ENV_VAR,
    DATA_ENV_VAR,
    FOLD_SEED,
    N_FOLDS,
    RECIPES,
    ROLES,
    Recipe,
    column_roles,
    describe,
    list_recipes,
    load_recipe,
    resolve_data_root,
)

# The loader modules register themselves in RECIPES on import, so this order is list_recipes()'s.
from monai_tabular.data.recipes.ixi import IXI_AGE_GROUPS, load_ixi_t1_hh  # isort: skip
from monai_tabular.data.recipes.derm7pt import DERM7PT_CLINICAL, DERM7PT_SEVEN_POINT, load_derm7pt  # isort: skip
from monai_tabular.data.recipes.mfeat import (  # isort: skip
    MFEAT_IMAGE_SHAPE,
    MFEAT_VIEW_SIZES,
    MFEAT_VIEWS,
    load_mfeat,
    mfeat_from_uint8,
    mfeat_to_uint8,
)

__all__ = [
    "DATA_ENV_VAR",
    "CACHE_ENV_VAR",
    "ROLES",
    "IXI_AGE_GROUPS",
    "Recipe",
    "RECIPES",
    "resolve_data_root",
    "load_recipe",
    "list_recipes",
    "describe",
    "column_roles",
    "mfeat_to_uint8",
    "mfeat_from_uint8",
    "DERM7PT_CLINICAL",
    "DERM7PT_SEVEN_POINT",
    "MFEAT_VIEWS",
    "load_ixi_t1_hh",
    "load_derm7pt",
    "load_mfeat",
]
