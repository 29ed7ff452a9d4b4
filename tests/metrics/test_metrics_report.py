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
"""summarize_folds, write_results (CSV, Markdown, ROC PNG, overwrite guard), format_ci, the layer rule."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

import monai_tabular.metrics as metrics_package
from monai_tabular.metrics import classification_metrics, format_ci, summarize_folds, write_results

METHODS = {"image": 0.2, "fusion": 0.5, "table": 0.35}


def _experiment(n_folds: int = 5, n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, predictions = [], []
    for fold in range(n_folds):
        subjects = [f"s{fold}_{i}" for i in range(n)]
        y = (rng.random(n) < 0.5).astype(int)
        y[:2] = [0, 1]
        for method, strength in METHODS.items():
            for mode in ("full", "missing"):
                p = np.clip(strength * y + (1 - strength) * rng.random(n), 0, 1)
                rows.append({"method": method, "mode": mode, "fold": fold, **classification_metrics(y, p)})
                predictions.append(pd.DataFrame({"method": method, "mode": mode, "fold": fold,
                                                 "subject_id": subjects, "label": y, "prob": p}))
    return pd.DataFrame(rows), pd.concat(predictions, ignore_index=True)


def test_summarize_folds_t_interval():
    rows, _ = _experiment()
    summary = summarize_folds(rows)
    assert list(summary.columns) == ["method", "mode", "metric", "n", "mean", "std", "low", "high"]
    assert list(dict.fromkeys(summary["method"])) == list(METHODS)  # order of appearance
    assert "fold" not in set(summary["metric"]) and "auc" in set(summary["metric"])
    values = rows[(rows.method == "fusion") & (rows["mode"] == "missing")]["auc"].to_numpy()
    got = summary[(summary.method == "fusion") & (summary["mode"] == "missing") & (summary.metric == "auc")].iloc[0]
    half = student_t.ppf(0.975, 4) * values.std(ddof=1) / np.sqrt(5)
    assert got["n"] == 5 and got["mean"] == pytest.approx(values.mean())
    assert got["std"] == pytest.approx(values.std(ddof=1))
    assert (got["low"], got["high"]) == pytest.approx((values.mean() - half, values.mean() + half))


def test_summarize_folds_options_and_single_fold():
    rows = pd.DataFrame({"method": ["a", "a", "b"], "fold": [0, 1, 0], "auc": [0.8, np.nan, 0.7], "note": "x"})
    summary = summarize_folds(rows, group_by=("method", "mode"))
    assert list(summary["metric"]) == ["auc", "auc"] and list(summary["n"]) == [1, 1]
    assert math.isnan(summary["low"].iloc[0]) and summary["mean"].iloc[0] == 0.8
    with pytest.raises(KeyError):
        summarize_folds(rows, metrics=["f1"])


def test_write_results_files(tmp_path):
    rows, predictions = _experiment()
    out = tmp_path / "exp"
    paths = write_results(rows, out, title="Synthetic", predictions=predictions, baseline="image",
                          metrics=["auc", "balanced_accuracy"])
    assert set(paths) == {"csv", "markdown", "roc", "summary", "bars"}
    assert paths["bars"].read_bytes().startswith(b"\x89PNG")
    saved = pd.read_csv(paths["summary"])
    fusion_auc = saved[(saved.method == "fusion") & (saved["mode"] == "full") & (saved.metric == "auc")].iloc[0]
    assert fusion_auc["low"] <= fusion_auc["mean"] <= fusion_auc["high"]
    back = pd.read_csv(paths["csv"])
    assert list(back.columns) == list(rows.columns) and len(back) == len(rows)
    png = paths["roc"].read_bytes()
    assert len(png) > 1000 and png.startswith(b"\x89PNG")
    lines = paths["markdown"].read_text().splitlines()
    assert lines[0] == "# Synthetic"
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    assert header == ["method", "mode", "folds", "auc", "balanced_accuracy", "Δ auc vs image", "p vs image"]
    table = [[c.strip() for c in line.strip("|").split("|")] for line in lines[4:10]]
    assert [r[:2] for r in table] == [[m, mode] for m in METHODS for mode in ("full", "missing")]
    summary = summarize_folds(rows, metrics=["auc"])
    fusion = summary[(summary.method == "fusion") & (summary["mode"] == "full")].iloc[0]
    assert table[2][3] == format_ci(fusion["mean"], fusion["low"], fusion["high"])
    assert table[0][5] == "(baseline)"
    assert table[2][6].endswith("(D)")  # with pooled binary predictions, DeLong paired by subject
    assert any("DeLong" in line for line in lines) and "roc.png" in lines[-1]


def test_single_split_uses_delong(tmp_path):
    rows, predictions = _experiment(n_folds=1, n=120)
    paths = write_results(rows, tmp_path, title="Split", predictions=predictions, baseline="image", metrics=["auc"])
    text = paths["markdown"].read_text()
    assert "(D)" in text and "DeLong" in text and "(W)" not in text
    bad = predictions.copy()
    bad.loc[bad.method == "fusion", "label"] = 1 - bad.loc[bad.method == "fusion", "label"]
    with pytest.raises(ValueError, match="different labels"):
        write_results(rows, tmp_path / "bad", title="Split", predictions=bad, baseline="image")


def test_refuses_to_overwrite(tmp_path):
    rows, predictions = _experiment(n_folds=2, n=20)
    paths = write_results(rows, tmp_path, title="First", predictions=predictions)
    before = {k: p.read_bytes() for k, p in paths.items()}
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_results(rows.head(3), tmp_path, title="Second")
    assert {k: p.read_bytes() for k, p in paths.items()} == before
    again = write_results(rows.head(3), tmp_path, title="Second", overwrite=True)
    assert set(again) == {"csv", "markdown", "summary", "bars"}
    assert not (tmp_path / "roc.png").exists()  # stale plot removed
    assert again["markdown"].read_text().startswith("# Second")


def test_write_results_validates(tmp_path):
    rows, _ = _experiment(n_folds=2, n=20)
    with pytest.raises(ValueError, match="baseline"):
        write_results(rows, tmp_path, title="x", baseline="nope")
    with pytest.raises(KeyError, match="method"):
        write_results(rows.drop(columns="method"), tmp_path, title="x")


def test_format_ci():
    assert format_ci(0.81234, 0.77, 0.85) == "0.812 [0.770, 0.850]"
    assert format_ci(0.81234, 0.77, 0.85, digits=2) == "0.81 [0.77, 0.85]"
    assert format_ci(0.5, float("nan"), float("nan")) == "0.500"
    assert format_ci(float("nan"), 0.1, 0.2) == "n/a"


def test_layer_rule_metrics_import_no_data_engines_networks():
    forbidden = ("monai_tabular.data", "monai_tabular.engines", "monai_tabular.networks")
    for path in Path(metrics_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
