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
"""Options shared by train/evaluate/finetune: ``--config``, ``--bundle``, ``--set key=value`` and ``--folds``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monai_tabular.cli.bundles import DEFAULT_BUNDLE, bundle_defaults
from monai_tabular.cli.errors import CLIError

__all__ = ["PATH_KEYS", "add_bundle_argument", "add_set_argument", "add_run_arguments", "parse_value", "parse_sets",
           "load_config", "collect_overrides", "parse_folds", "resolve_folds", "run_dir_of"]

# override keys holding paths: relative values in a config file start from the config file's folder
PATH_KEYS = ("csv", "spec", "dataset_dir", "output_dir", "folds", "pretrained", "run_dir", "output_csv")


def add_bundle_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", default=DEFAULT_BUNDLE, metavar="PATH_OR_NAME",
                        help=f"bundle folder, or a bundle name looked up in $MONAI_TABULAR_BUNDLES then the "
                             f"repository's bundles/ (default: {DEFAULT_BUNDLE})")


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override one bundle config value (repeatable); VALUE is parsed as JSON when it can be "
                             "(numbers, lists, true/false, null, objects), else kept as a string, e.g. --set "
                             "epochs=2 --set image_encoder=resnet18 --set 'image_encoder_args={\"width_factor\": 0.5}'")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--bundle``, ``--set`` and ``--folds``."""
    parser.add_argument("--config", metavar="CONFIG.json",
                        help="override config written by `monai-tabular init` (csv, spec, output_dir, model ...); "
                             "relative paths in it start from its folder")
    add_bundle_argument(parser)
    add_set_argument(parser)
    parser.add_argument("--folds", metavar="all|0,1,2",
                        help="run these folds one after the other ('all' = 0..n_folds-1); default: the config's fold")


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON when it parses, else the text itself.

    Example:
        >>> parse_value("3"), parse_value("[1, 2]"), parse_value("true"), parse_value("resnet18")
        (3, [1, 2], True, 'resnet18')
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``["epochs=2", "model=table"]`` -> ``{"epochs": 2, "model": "table"}``.

    Example:
        >>> parse_sets(["epochs=2", "image_encoder_args={\\"width_factor\\": 0.5}"])
        {'epochs': 2, 'image_encoder_args': {'width_factor': 0.5}}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def load_config(path: str | Path) -> dict[str, Any]:
    """An override config (JSON object); relative values of :data:`PATH_KEYS` become paths from its folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CLIError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(content, Mapping):
        raise CLIError(f"config file {path} must hold a JSON object of overrides, not {type(content).__name__}")
    content = dict(content)
    for key in PATH_KEYS:
        value = content.get(key)
        if isinstance(value, str) and value and not value.startswith(("$", "@", "%")) and not Path(value).is_absolute():
            content[key] = str((path.parent / value).resolve())
    return content


def collect_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Overrides from ``--config`` then ``--set`` (later wins)."""
    overrides = load_config(args.config) if getattr(args, "config", None) else {}
    overrides.update(parse_sets(getattr(args, "sets", None) or []))
    return overrides


def parse_folds(text: str | None) -> list[int | str] | str | None:
    """``"all"`` stays ``"all"``; ``"0,1,2"`` -> ``[0, 1, 2]`` (non-integers kept as names); ``None`` -> ``None``.

    Example:
        >>> parse_folds("0, 2"), parse_folds("all"), parse_folds("val")
        ([0, 2], 'all', ['val'])
    """
    if text is None:
        return None
    if text.strip().lower() == "all":
        return "all"
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise CLIError(f"--folds expects 'all' or a comma-separated list of folds, got {text!r}")
    return [int(t) if t.lstrip("-").isdigit() else t for t in items]


def resolve_folds(text: str | None, overrides: Mapping[str, Any], bundle_dir: Path) -> list[int | str] | None:
    """The folds to run: ``None`` for the single fold the overrides/bundle name; ``all`` -> ``0..n_folds-1``."""
    folds = parse_folds(text)
    if folds != "all":
        return folds
    n_folds = overrides.get("n_folds", bundle_defaults(bundle_dir).get("n_folds"))
    if not isinstance(n_folds, int) or n_folds < 1:
        raise CLIError(f"--folds all needs an integer n_folds (got {n_folds!r}); list the folds instead")
    return list(range(n_folds))


def run_dir_of(overrides: Mapping[str, Any], bundle_dir: Path, fold: int | str | None = None) -> Path:
    """Where the bundle writes a fold's run (``<output_dir>/fold<fold>``, as its ``run_dir`` says), for messages."""
    if isinstance(overrides.get("run_dir"), str):
        return Path(overrides["run_dir"])
    defaults = bundle_defaults(bundle_dir)
    output_dir = overrides.get("output_dir")
    if not isinstance(output_dir, str) or output_dir.startswith("$"):
        output_dir = "runs"  # the bundle default: <bundle_root = working directory>/runs
    fold = overrides.get("fold", defaults.get("fold", 0)) if fold is None else fold
    return Path(output_dir) / f"fold{fold}"
