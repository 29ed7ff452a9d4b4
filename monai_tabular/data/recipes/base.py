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
"""What the recipes share: the :class:`Recipe` dataclass, the data root, the registry and helpers.

The loaders (:mod:`.ixi`, :mod:`.derm7pt`, :mod:`.mfeat`) add themselves to :data:`RECIPES` with
:func:`_register_recipe` when the package is imported.
"""

from __future__ import annotations

import copy
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from monai_tabular.data.errors import SchemaError, SplitError, TableDataError

__all__ = [
    "DATA_ENV_VAR",
    "CACHE_ENV_VAR",
    "ROLES",
    "N_FOLDS",
    "FOLD_SEED",
    "Recipe",
    "RECIPES",
    "resolve_data_root",
    "load_recipe",
    "list_recipes",
    "describe",
    "column_roles",
]

DATA_ENV_VAR = "MONAI_TABULAR_DATA"
CACHE_ENV_VAR = "MONAI_TABULAR_CACHE"

#: Spec keys that hold column names, in the order a column's role is looked up.
ROLES = ("subject_id", "label", "image", "numerical", "categorical", "text", "ignore")

N_FOLDS = 5
FOLD_SEED = 0


# ----------------------------------------------------------------------------------------------
# data root
# ----------------------------------------------------------------------------------------------
def _repo_root() -> Path:
    """The folder above the ``monai_tabular`` package, found from the recipes package's ``__file__``."""
    package = sys.modules[__package__]  # monai_tabular/data/recipes/__init__.py
    return Path(package.__file__).resolve().parents[3]


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """Find the folder that holds the real data sets (``ixi_t1_hh``, ``derm7pt``, ``mfeat``).

    Looks, in order, at ``data_root``, the environment variable ``MONAI_TABULAR_DATA``, then the
    first existing of ``Path.cwd()/../shared/data`` and ``<repo root>/../shared/data``.

    Args:
        data_root: explicit folder; it must exist.

    Returns:
        The resolved, existing folder.

    Raises:
        FileNotFoundError: when the folder given (argument or environment variable) does not exist,
            or when no candidate exists; the message says where it looked and how to set
            ``MONAI_TABULAR_DATA``.

    Example:
        >>> root = resolve_data_root()  # doctest: +SKIP
        >>> sorted(p.name for p in root.iterdir())  # doctest: +SKIP
        ['README.md', 'derm7pt', 'ixi_t1_hh', 'mfeat']
    """
    hint = f"set the environment variable {DATA_ENV_VAR}=/path/to/shared/data or pass data_root="
    if data_root is not None:
        path = Path(data_root).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"data_root '{path}' is not an existing folder; {hint}")
        return path.resolve()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"{DATA_ENV_VAR}='{env}' is not an existing folder; {hint}")
        return path.resolve()
    candidates = [Path.cwd() / ".." / "shared" / "data", _repo_root() / ".." / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    looked = ", ".join(f"'{p.resolve()}'" for p in candidates)
    raise FileNotFoundError(f"real data folder not found (looked at {DATA_ENV_VAR}, {looked}); {hint}")


# ----------------------------------------------------------------------------------------------
# Recipe
# ----------------------------------------------------------------------------------------------
@dataclass
class Recipe:
    """One task on one real data set: table, spec, folds and image root.

    Attributes:
        name: recipe name, e.g. ``"ixi_t1_hh/sex"``.
        table: one row per subject, every cell a ``str`` (missing = NaN); holds the id, label,
            image path (relative to ``image_root``) and feature columns.
        spec: table-schema spec; every column of ``table`` is named under exactly one role of
            :data:`ROLES`, ``"infer"`` is False.
        folds: subject id -> fold (``int`` 0..4) or ``"train"``/``"val"``/``"test"``.
        image_root: folder the image paths in ``table`` are relative to.
        description: what the task is, where the data comes from, its licence.
        options: the options the recipe was loaded with.

    Example:
        >>> recipe = load_recipe("derm7pt", task="mel_vs_nev")  # doctest: +SKIP
        >>> small = recipe.subset(n=8)  # doctest: +SKIP
        >>> items = small.datalist(check_images="exists")  # doctest: +SKIP
    """

    name: str
    table: pd.DataFrame
    spec: dict
    folds: dict
    image_root: Path
    description: str
    options: dict = field(default_factory=dict)

    def datalist(self, **kwargs: Any) -> list[dict]:
        """Build the MONAI datalist of this recipe with ``build_datalist``.

        Args:
            **kwargs: passed on to :func:`monai_tabular.data.datalist.build_datalist`
                (e.g. ``check_images="exists"``).

        Returns:
            One dict per subject.

        Example:
            >>> items = load_recipe("mfeat").datalist(check_images="exists")  # doctest: +SKIP
        """
        from monai_tabular.data.datalist import build_datalist

        return build_datalist(self.table, self.spec, image_root=self.image_root, **kwargs)

    @property
    def subject_ids(self) -> list[str]:
        """The subject ids, in table order.

        Example:
            >>> load_recipe("mfeat").subject_ids[:2]  # doctest: +SKIP
            ['mfeat_0000', 'mfeat_0001']
        """
        return self.table[self.spec["subject_id"]].tolist()

    def feature_columns(self, *, roles: tuple[str, ...] = ("numerical", "categorical", "text")) -> list[str]:
        """The columns of the given feature roles (the image columns are not included by default).

        Args:
            roles: spec roles to collect.

        Returns:
            Column names, role by role.

        Example:
            >>> load_recipe("ixi_t1_hh", task="sex").feature_columns()[:3]  # doctest: +SKIP
            ['age', 'height_cm', 'weight_kg']
        """
        return [c for role in roles for c in self.spec.get(role, [])]

    def subset(self, *, n: int) -> Recipe:
        """A copy restricted to ``n`` subjects, taken round-robin over the folds.

        The subjects of each fold are taken in table order and the folds are visited in turn, so a
        small subset still holds every fold (and, the folds being stratified, a mix of classes).

        Args:
            n: number of subjects to keep (all when ``n`` >= the number of subjects).

        Returns:
            A new :class:`Recipe` with the same spec, its table in the original row order.

        Raises:
            ValueError: when ``n`` < 1.

        Example:
            >>> small = load_recipe("derm7pt").subset(n=8)  # doctest: +SKIP
            >>> len(small.table)  # doctest: +SKIP
            8
        """
        if n < 1:
            raise ValueError(f"subset needs n >= 1, got {n}")
        ids = self.subject_ids
        by_fold: dict[Any, list[str]] = {}
        for sid in ids:
            by_fold.setdefault(self.folds[sid], []).append(sid)
        order = sorted(by_fold, key=_fold_sort_key)
        picked: set[str] = set()
        position = 0
        while len(picked) < min(n, len(ids)):
            for fold in order:
                if position < len(by_fold[fold]) and len(picked) < n:
                    picked.add(by_fold[fold][position])
            position += 1
        mask = self.table[self.spec["subject_id"]].isin(picked)
        table = self.table.loc[mask].reset_index(drop=True)
        return Recipe(
            name=self.name,
            table=table,
            spec=copy.deepcopy(self.spec),
            folds={sid: self.folds[sid] for sid in table[self.spec["subject_id"]]},
            image_root=self.image_root,
            description=self.description,
            options={**self.options, "subset": n},
        )

    def validate(self) -> Recipe:
        """Check that table, spec and folds fit together.

        Checks: every column of ``table`` is named under exactly one role and every column the spec
        names exists; every cell is a ``str`` or missing; subject ids are present and unique; the
        label is present for every subject and is not also a feature; ``folds`` covers exactly the
        subjects of the table.

        Returns:
            ``self``, so that it can be chained.

        Raises:
            SchemaError: on a column without a role, with several roles, or missing from the table.
            TableDataError: on a non-string cell, a missing or duplicated id, or a missing label.
            SplitError: when ``folds`` and the table disagree on the subjects.

        Example:
            >>> load_recipe("mfeat").validate().name  # doctest: +SKIP
            'mfeat/digit'
        """
        roles = column_roles(self.spec)
        columns = list(self.table.columns)
        without = [c for c in columns if c not in roles]
        if without:
            raise SchemaError(f"{self.name}: columns without a role in the spec: {without}")
        several = {c: r for c, r in roles.items() if len(r) > 1}
        if several:
            raise SchemaError(f"{self.name}: columns named under several roles: {several}")
        absent = [c for c in roles if c not in self.table.columns]
        if absent:
            raise SchemaError(f"{self.name}: the spec names columns that are not in the table: {absent}")
        for column in columns:
            values = self.table[column]
            bad = values[values.notna() & ~values.map(lambda v: isinstance(v, str))]
            if len(bad):
                raise TableDataError(
                    f"{self.name}: cells must be str or missing", column=column, rows=bad.index.tolist()
                )
        id_col, label_col = self.spec["subject_id"], self.spec["label"]
        ids = self.table[id_col]
        if ids.isna().any() or ids.duplicated().any():
            rows = ids.index[ids.isna() | ids.duplicated(keep=False)].tolist()
            raise TableDataError(f"{self.name}: subject ids must be present and unique", column=id_col, rows=rows)
        if self.table[label_col].isna().any():
            rows = ids[self.table[label_col].isna()].tolist()
            raise TableDataError(f"{self.name}: the label is missing", column=label_col, rows=rows)
        if label_col in self.feature_columns(roles=("image", "numerical", "categorical", "text")):
            raise SchemaError(f"{self.name}: the label '{label_col}' is also a feature", column=label_col)
        missing = sorted(set(ids) - set(self.folds))
        extra = sorted(set(self.folds) - set(ids))
        if missing or extra:
            raise SplitError(
                f"{self.name}: folds must cover exactly the subjects of the table "
                f"({len(missing)} subjects without a fold, {len(extra)} fold entries without a subject)",
                rows=(missing + extra),
            )
        return self


def column_roles(spec: dict) -> dict[str, list[str]]:
    """Map each column named in a spec to the roles it is named under.

    Args:
        spec: a table-schema spec.

    Returns:
        column -> list of roles (a well-formed spec gives one role per column).

    Example:
        >>> column_roles({"subject_id": "id", "label": "y", "numerical": ["x"]})
        {'id': ['subject_id'], 'y': ['label'], 'x': ['numerical']}
    """
    roles: dict[str, list[str]] = {}
    for role in ROLES:
        value = spec.get(role)
        if value is None:
            continue
        for column in [value] if isinstance(value, str) else value:
            roles.setdefault(column, []).append(role)
    return roles


def describe(recipe: Recipe) -> str:
    """A short, printable summary of a recipe.

    Gives the number of subjects, the number of columns of each role, the class counts (or the
    label range for a regression) and the fold sizes.

    Args:
        recipe: the recipe to summarise.

    Returns:
        A multi-line string.

    Example:
        >>> print(describe(recipe=load_recipe("derm7pt", task="mel_vs_nev")))  # doctest: +SKIP
        derm7pt/mel_vs_nev: 827 subjects
        ...
    """
    spec, table = recipe.spec, recipe.table
    label = spec["label"]
    lines = [f"{recipe.name}: {len(table)} subjects", f"  image root: {recipe.image_root}"]
    counts = ", ".join(f"{role} {len(spec.get(role, []))}" for role in ROLES[2:])
    lines.append(f"  columns by role: {counts}")
    lines.append(f"  label: '{label}' ({spec.get('task', 'classification')})")
    if spec.get("task") == "regression":
        values = pd.to_numeric(table[label])
        lines.append(f"  label range: {values.min():g} .. {values.max():g} (mean {values.mean():.3g})")
    else:
        classes = table[label].value_counts().sort_index()
        lines.append("  classes: " + ", ".join(f"{k} {v}" for k, v in classes.items()))
    sizes: dict[Any, int] = {}
    for sid in table[spec["subject_id"]]:
        sizes[recipe.folds[sid]] = sizes.get(recipe.folds[sid], 0) + 1
    lines.append(
        "  folds: " + ", ".join(f"{k} {sizes[k]}" for k in sorted(sizes, key=_fold_sort_key))
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# helpers shared by the loaders
# ----------------------------------------------------------------------------------------------
def _fold_sort_key(fold: Any) -> tuple[int, Any]:
    named = {"train": 0, "val": 1, "test": 2}
    if isinstance(fold, str):
        return (1, named.get(fold, 3), fold)
    return (0, fold, "")


def _require_file(path: Path) -> None:
    """Raise ``FileNotFoundError`` (naming the data environment variable) when ``path`` is no file."""
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: '{path}'; is {DATA_ENV_VAR} pointing at the shared data?")


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV with every cell as ``str`` (missing = NaN)."""
    _require_file(path)
    return pd.read_csv(path, dtype=str, keep_default_na=True, **kwargs)


def _as_str(values: Any) -> pd.Series:
    """A Series whose non-missing cells are ``str`` and missing cells NaN (same on pandas 2 and 3)."""
    series = pd.Series(values)
    out = series.map(lambda v: v if isinstance(v, str) else str(v), na_action="ignore")
    return out.astype(object).where(series.notna(), np.nan)


def _strip_cells(frame: pd.DataFrame, columns: Any = None) -> pd.DataFrame:
    """Strip the whitespace around the cells of ``columns`` (default: all), in place; returns ``frame``."""
    for column in frame.columns if columns is None else columns:
        frame[column] = _as_str(frame[column].map(str.strip, na_action="ignore"))
    return frame


_INTEGRAL = re.compile(r"^\s*([+-]?\d+)\.0*\s*$")


def _render_code(value: Any) -> Any:
    """Render a categorical code: ``"1.0"`` -> ``"1"``; other text unchanged; missing stays NaN."""
    if not isinstance(value, str):
        return value
    match = _INTEGRAL.match(value)
    return match.group(1) if match else value.strip()


def _check_option(recipe: str, option: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{recipe}: {option}={value!r} is not one of {list(allowed)}")


def _stratified_folds(ids: list[str], labels: list[str], *, what: str) -> dict[str, int]:
    """Stratified 5-fold assignment (StratifiedKFold, shuffled, seed 0); warn for rare classes."""
    from sklearn.model_selection import StratifiedKFold

    counts = pd.Series(labels).value_counts()
    rare = counts[counts < N_FOLDS]
    if len(rare):
        warnings.warn(
            f"{what}: {len(rare)} classes have fewer members than the {N_FOLDS} folds, so some folds "
            f"have none of them: {', '.join(f'{k!r} ({v})' for k, v in rare.items())}",
            UserWarning,
            stacklevel=3,
        )
    splitter = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=FOLD_SEED)
    folds: dict[str, int] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for fold, (_, test_index) in enumerate(splitter.split(np.zeros(len(ids)), labels)):
            for i in test_index:
                folds[ids[i]] = int(fold)
    return folds


def _spec(
    *,
    subject_id: str,
    label: str,
    task: str,
    image: list[str],
    numerical: list[str] = (),
    categorical: list[str] = (),
    text: list[str] = (),
    ignore: list[str] = (),
    columns: dict | None = None,
    classes: list[str] | None = None,
) -> dict:
    spec = {
        "subject_id": subject_id,
        "label": label,
        "task": task,
        "image": list(image),
        "numerical": list(numerical),
        "categorical": list(categorical),
        "text": list(text),
        "ignore": list(ignore),
        "columns": dict(columns or {}),
        "infer": False,
    }
    if classes is not None:
        spec["classes"] = list(classes)  # index order; the last class is the positive one of a binary task
    return spec


# ----------------------------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _RecipeEntry:
    loader: Callable[..., Recipe]
    options: dict  # option -> allowed values (None: free-form)
    summary: str


#: name -> loader, options and summary; filled, in :func:`list_recipes` order, by the loader
#: modules as the package imports them (ixi, derm7pt, mfeat).
RECIPES: dict[str, _RecipeEntry] = {}


def _register_recipe(name: str, *, loader: Callable[..., Recipe], options: dict, summary: str) -> None:
    """Add a loader to :data:`RECIPES` under ``name`` (``options``: option -> allowed values or None)."""
    RECIPES[name] = _RecipeEntry(loader=loader, options=options, summary=summary)


def list_recipes() -> list[str]:
    """The names of the known recipes.

    Returns:
        Names accepted by :func:`load_recipe`.

    Example:
        >>> list_recipes()
        ['ixi_t1_hh', 'derm7pt', 'mfeat']
    """
    return list(RECIPES)


def load_recipe(name: str, *, data_root: str | os.PathLike | None = None, **options: Any) -> Recipe:
    """Load a recipe by name.

    ``name`` may carry the task after a slash, as in :attr:`Recipe.name` (``"ixi_t1_hh/age"`` is
    ``load_recipe("ixi_t1_hh", task="age")``; ``"mfeat/digit"`` is ``"mfeat"``).

    Args:
        name: one of :func:`list_recipes`, optionally ``"<name>/<task>"``.
        data_root: the shared data folder (see :func:`resolve_data_root`).
        **options: the recipe's options (see ``RECIPES[name].options`` and its loader).

    Returns:
        The recipe.

    Raises:
        ValueError: on an unknown name or option, or a bad option value.

    Example:
        >>> recipe = load_recipe("derm7pt", task="diagnosis", attributes="seven_point")  # doctest: +SKIP
        >>> recipe.spec["label"]  # doctest: +SKIP
        'diagnosis'
    """
    base, _, task = str(name).partition("/")
    if base not in RECIPES:
        raise ValueError(f"unknown recipe '{name}'; known recipes: {', '.join(list_recipes())}")
    entry = RECIPES[base]
    if task and not (base == "mfeat" and task == "digit"):
        if "task" not in entry.options:
            raise ValueError(f"recipe '{base}' has no task option; got '{name}'")
        if "task" in options and options["task"] != task:
            raise ValueError(f"task given twice with different values: '{name}' and task={options['task']!r}")
        options = {**options, "task": task}
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        raise ValueError(f"recipe '{base}' has no option(s) {unknown}; its options: {sorted(entry.options)}")
    return entry.loader(data_root=data_root, **options)
