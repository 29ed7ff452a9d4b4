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
"""Finding a bundle (a path, or a name under ``$MONAI_TABULAR_BUNDLES`` or the repository's ``bundles``) and
running its configs in-process with overrides."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import monai_tabular
from monai_tabular.cli.errors import CLIError

__all__ = ["DEFAULT_BUNDLE", "BUNDLES_ENV", "bundle_search_roots", "find_bundle", "bundle_defaults", "run_configs"]

DEFAULT_BUNDLE = "image_table_baseline"
BUNDLES_ENV = "MONAI_TABULAR_BUNDLES"
# keyword arguments of monai.bundle.run that an override must not shadow
RESERVED_KEYS = ("run_id", "init_id", "final_id", "meta_file", "config_file", "logging_file", "tracking", "args_file")


def bundle_search_roots() -> list[Path]:
    """Folders a bundle name is looked up in: each entry of ``$MONAI_TABULAR_BUNDLES``, then ``<repo>/bundles``.

    Example:
        >>> bundle_search_roots()[-1].name
        'bundles'
    """
    roots = [Path(p).expanduser() for p in os.environ.get(BUNDLES_ENV, "").split(os.pathsep) if p.strip()]
    return roots + [Path(monai_tabular.__file__).resolve().parents[1] / "bundles"]


def _is_bundle(path: Path) -> bool:
    return (path / "configs").is_dir()


def find_bundle(name_or_path: str | os.PathLike) -> Path:
    """The bundle folder (holding ``configs/``) named by a path or a bundle name.

    Raises:
        CLIError: not found; the message lists where it looked and the bundles found there.

    Example:
        >>> find_bundle("image_table_baseline").name
        'image_table_baseline'
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        if _is_bundle(path):
            return path.resolve()
        raise CLIError(f"{path} is not a bundle: it has no configs/ folder")
    looked = [str(path.resolve())]
    available: list[str] = []
    if os.sep not in text and "/" not in text:
        for root in bundle_search_roots():
            candidate = root / text
            if _is_bundle(candidate):
                return candidate.resolve()
            looked.append(str(candidate))
            if root.is_dir():
                available += [p.name for p in sorted(root.iterdir()) if _is_bundle(p)]
    known = f"; bundles found there: {sorted(set(available))}" if available else ""
    raise CLIError(f"bundle {text!r} not found; looked in: {', '.join(looked)}{known} "
                   f"(give a bundle folder, or a name under ${BUNDLES_ENV})")


def bundle_defaults(bundle_dir: Path, config: str = "train.json") -> dict[str, Any]:
    """The top-level values of one of the bundle's configs (to show or copy defaults, never to run)."""
    path = Path(bundle_dir) / "configs" / config
    if not path.is_file():
        raise FileNotFoundError(f"bundle config {path} does not exist")
    return json.loads(path.read_text())


def _check_configs(bundle_dir: Path, configs: Sequence[str]) -> None:
    for name in configs:
        path = Path(bundle_dir) / "configs" / name
        if not path.is_file():
            raise FileNotFoundError(f"the bundle {bundle_dir} has no config {name!r} ({path})")


def run_configs(bundle_dir: Path, configs: Sequence[str], overrides: Mapping[str, Any]) -> Any:
    """Run the bundle's ``configs`` (merged in order, e.g. ``["train.json", "evaluate.json"]``) with overrides.

    Runs in this process through :func:`monai_tabular.engines.run_bundle` (``monai.bundle.run`` with the bundle's
    ``metadata.json`` and ``logging.conf``), the project's one way to run a bundle.

    Example:
        >>> run_configs(find_bundle("image_table_baseline"), ["train.json"], {"epochs": 1})   # doctest: +SKIP
    """
    from monai_tabular.engines.folds import run_bundle  # imported here: torch/MONAI load only when a bundle runs

    reserved = sorted(set(overrides) & set(RESERVED_KEYS))
    if reserved:
        raise CLIError(f"override key(s) {reserved} are reserved by monai.bundle.run; use other names")
    _check_configs(bundle_dir, configs)  # name a missing config before anything runs
    return run_bundle(Path(bundle_dir), list(configs), dict(overrides))
