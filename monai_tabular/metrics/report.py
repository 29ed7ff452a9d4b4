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
"""Cross-validation summaries: per-fold rows -> mean, std and 95% CI, a Markdown table, ROC curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from scipy.stats import t as student_t

from monai_tabular.metrics.bootstrap import bootstrap_ci
from monai_tabular.metrics.classification import classification_metrics
from monai_tabular.metrics.paired import delong_test, wilcoxon_folds
from monai_tabular.metrics.regression import regression_metrics

__all__ = ["agg_figure", "summarize_folds", "write_results", "format_ci", "RESULT_FILES"]

RESULT_FILES = {"csv": "results.csv", "markdown": "results.md", "roc": "roc.png", "summary": "summary.csv",
                "bars": "bars.png"}
_NOT_METRICS = ("fold", "seed", "repeat", "n_train", "n_val", "n_test")


def format_ci(value: float, low: float, high: float, *, digits: int = 3) -> str:
    """``"value [low, high]"``; just ``"value"`` when the interval is NaN, ``"n/a"`` when the value is.

    Example:
        >>> format_ci(0.81234, 0.77, 0.85)
        '0.812 [0.770, 0.850]'
        >>> format_ci(0.5, float("nan"), float("nan"), digits=2), format_ci(float("nan"), 0, 1)
        ('0.50', 'n/a')
    """
    if value is None or np.isnan(value):
        return "n/a"
    if low is None or high is None or np.isnan(low) or np.isnan(high):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _group_columns(frame: pd.DataFrame, group_by: Sequence[str]) -> list[str]:
    return [c for c in group_by if c in frame.columns]


def summarize_folds(rows: pd.DataFrame, *, metrics: list[str] | None = None,
                    group_by: Sequence[str] = ("method", "mode"), alpha: float = 0.05) -> pd.DataFrame:
    """Mean, standard deviation and t-interval across folds of each metric, per method and mode.

    The interval is ``mean ± t(1 - alpha/2, n - 1) * std / sqrt(n)`` over the ``n`` folds with a value (Student t,
    ``std`` with ``ddof=1``; NaN folds left out; no interval for one fold). Cross-validation folds share training
    subjects, so they are not independent samples and the interval is optimistic (Nadeau & Bengio, 2003): read it
    as the spread over folds, and use bootstrap CIs of pooled predictions or repeated CV for stronger claims.

    Args:
        rows: one row per method x mode x fold, one column per metric.
        metrics: metric columns; default: every numeric column except ``group_by`` and bookkeeping columns
            (``fold``, ``seed``, ``repeat``, ``n_train``, ``n_val``, ``n_test``).
        group_by: grouping columns; the ones absent from ``rows`` are ignored.
        alpha: 1 - confidence level.

    Returns:
        Long format, one row per group x metric, groups in order of appearance:
        ``[*group_by, "metric", "n", "mean", "std", "low", "high"]``.

    Example:
        >>> rows = pd.DataFrame({"method": ["a"] * 3, "fold": [0, 1, 2], "auc": [0.8, 0.82, 0.84]})
        >>> summarize_folds(rows).round(3).to_dict("records")
        [{'method': 'a', 'metric': 'auc', 'n': 3, 'mean': 0.82, 'std': 0.02, 'low': 0.77, 'high': 0.87}]
    """
    groups = _group_columns(rows, group_by)
    if metrics is None:
        metrics = [c for c in rows.columns if c not in groups and c not in _NOT_METRICS
                   and is_numeric_dtype(rows[c]) and not is_bool_dtype(rows[c])]
    missing = [m for m in metrics if m not in rows.columns]
    if missing:
        raise KeyError(f"summarize_folds: no column {missing} in rows (columns: {list(rows.columns)})")
    parts = rows.groupby(groups, sort=False, dropna=False) if groups else [((), rows)]
    records = []
    for keys, part in parts:
        keys = keys if isinstance(keys, tuple) else (keys,)
        for metric in metrics:
            values = pd.to_numeric(part[metric], errors="coerce").to_numpy(dtype=np.float64)
            values = values[~np.isnan(values)]
            n = int(values.size)
            mean = float(values.mean()) if n else np.nan
            std = float(values.std(ddof=1)) if n > 1 else np.nan
            low, high = (student_t.interval(1 - alpha, n - 1, loc=mean, scale=std / np.sqrt(n))
                         if n > 1 and std > 0 else (mean, mean) if n > 1 else (np.nan, np.nan))
            records.append({**dict(zip(groups, keys)), "metric": metric, "n": n, "mean": mean, "std": std,
                            "low": float(low), "high": float(high)})
    return pd.DataFrame(records, columns=[*groups, "metric", "n", "mean", "std", "low", "high"])


def pooled_bootstrap(predictions: pd.DataFrame, *, group_by: Sequence[str] = ("method", "mode"),
                     n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Metrics of the predictions pooled over folds with percentile bootstrap CIs, per method and mode.

    Classification predictions carry either binary ``label`` 0/1 with ``prob`` = P(positive), or ``label`` (class
    name) and one ``prob_<class>`` column per class (the format of ``PredictionWriter``); regression predictions carry numeric ``label`` and ``pred``. Resampling is by
    subject, stratified by class. Same long format as :func:`summarize_folds` (``mean`` = pooled estimate).

    Example:
        >>> p = pd.DataFrame({"method": "a", "fold": [0, 0, 1, 1, 1, 0], "label": list("xyxyyx"),
        ...                   "prob_x": [.8, .3, .6, .2, .4, .9], "prob_y": [.2, .7, .4, .8, .6, .1]})
        >>> float(pooled_bootstrap(p, n_boot=50).set_index("metric").loc["auc", "mean"])
        1.0
    """
    groups = _group_columns(predictions, group_by)
    parts = predictions.groupby(groups, sort=False, dropna=False) if groups else [((), predictions)]
    records = []
    for keys, part in parts:
        keys = keys if isinstance(keys, tuple) else (keys,)
        prob_columns = [c for c in part.columns if c.startswith("prob_") and part[c].notna().all()]
        if "prob" in part.columns and part["label"].isin([0, 1]).all():  # binary: label 0/1, P(positive)
            result = bootstrap_ci(part["label"].to_numpy(dtype=int), part["prob"].to_numpy(dtype=np.float64),
                                  classification_metrics, n_boot=n_boot, alpha=alpha, seed=seed)
        elif prob_columns:
            names = [c[len("prob_"):] for c in prob_columns]
            labels = part["label"].astype(str)
            unknown = sorted(set(labels) - set(names))
            if unknown:
                raise ValueError(f"labels {unknown} have no prob_<class> column (columns: {prob_columns})")
            y = labels.map({n: i for i, n in enumerate(names)}).to_numpy()
            scores = part[prob_columns].to_numpy(dtype=np.float64)
            result = bootstrap_ci(y, scores, classification_metrics, n_boot=n_boot, alpha=alpha, seed=seed)
        else:
            y = part["label"].to_numpy(dtype=np.float64)
            result = bootstrap_ci(y, part["pred"].to_numpy(dtype=np.float64), regression_metrics, n_boot=n_boot,
                                  alpha=alpha, seed=seed, stratify=False)
        n_folds = int(part["fold"].nunique()) if "fold" in part.columns else 1
        for metric, (value, low, high) in result.items():
            records.append({**dict(zip(groups, keys)), "metric": metric, "n": n_folds, "mean": float(value),
                            "std": np.nan, "low": float(low), "high": float(high)})
    return pd.DataFrame(records, columns=[*groups, "metric", "n", "mean", "std", "low", "high"])


def _format_p(p: float) -> str:
    return "n/a" if np.isnan(p) else "<0.001" if p < 0.001 else f"{p:.3g}"


def _paired_test(rows: pd.DataFrame, predictions: pd.DataFrame | None, method: str, mode: object, baseline: str,
                 key: str) -> tuple[float, float, str]:
    """``(diff, p, test)`` of ``method`` vs ``baseline`` in ``mode``: DeLong on the pooled binary predictions
    paired by subject (the more powerful test; 5 folds cannot give a Wilcoxon p below 0.0625), else Wilcoxon over
    folds."""

    def select(frame: pd.DataFrame, name: str) -> pd.DataFrame:
        mask = frame["method"] == name
        if "mode" in frame.columns:
            mask &= frame["mode"].isna() if pd.isna(mode) else frame["mode"] == mode
        return frame[mask]

    if predictions is not None and key == "auc" and "prob" in predictions.columns:
        on = ["subject_id"] + (["fold"] if "fold" in predictions.columns else [])
        pa, pb = select(predictions, method), select(predictions, baseline)
        if pb.empty:  # a baseline evaluated in one mode only (e.g. table_only) is compared with every mode
            pb = predictions[predictions["method"] == baseline]
        paired = pa[[*on, "label", "prob"]].merge(pb[[*on, "label", "prob"]], on=on, suffixes=("_a", "_b"))
        if not (paired["label_a"] == paired["label_b"]).all():
            raise ValueError(f"predictions of {method!r} and {baseline!r} give different labels to the same "
                             "subjects")
        paired = paired.rename(columns={"label_a": "label"})
        try:
            r = delong_test(paired["label"], paired["prob_a"], paired["prob_b"])
            return r["diff"], r["p_value"], "D"
        except ValueError:  # too few subjects of a class: fall back to the folds
            pass
    a, b = select(rows, method), select(rows, baseline)
    if b.empty:
        b = rows[rows["method"] == baseline]
    if key in rows.columns and "fold" in rows.columns:
        paired = a[["fold", key]].merge(b[["fold", key]], on="fold", suffixes=("_a", "_b"))
        if len(paired) > 1:
            r = wilcoxon_folds(paired[f"{key}_a"], paired[f"{key}_b"])
            return r["mean_diff"], r["p_value"], "W"
    return np.nan, np.nan, ""


def _markdown_table(header: list[str], body: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, body)])


def _markdown(rows: pd.DataFrame, summary: pd.DataFrame, *, title: str, predictions: pd.DataFrame | None,
              baseline: str | None, key: str, roc: bool, ci: str = "folds") -> str:
    groups = _group_columns(summary, ("method", "mode"))
    metrics = list(dict.fromkeys(summary["metric"]))
    header = [*groups, "folds", *metrics]
    if baseline is not None:
        header += [f"Δ {key} vs {baseline}", f"p vs {baseline}"]
    body, tests = [], set()
    for keys, part in summary.groupby(groups, sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        by_metric = part.set_index("metric")
        cells = [*map(str, keys), str(int(by_metric["n"].max()))]
        cells += [format_ci(*by_metric.loc[m, ["mean", "low", "high"]]) for m in metrics]
        if baseline is not None:
            group = dict(zip(groups, keys))
            if group["method"] == baseline:
                cells += ["(baseline)", ""]
            else:
                diff, p, test = _paired_test(rows, predictions, group["method"], group.get("mode", np.nan),
                                             baseline, key)
                tests.add(test)
                cells += ["n/a" if np.isnan(diff) else f"{diff:+.3f}", f"{_format_p(p)} ({test})" if test else "n/a"]
        body.append(cells)
    lines = [f"# {title}", "", _markdown_table(header, body), "",
             "Each cell: mean over folds [95% t-interval across folds]." if ci == "folds" else
             "Each cell: the metric of the predictions pooled over folds [95% percentile bootstrap CI, resampling "
             "subjects stratified by class]."]
    if "W" in tests:
        lines.append(f"(W): two-sided Wilcoxon signed-rank test of per-fold `{key}`, paired by fold with `{baseline}` "
                     "in the same mode (5 folds cannot give p < 0.0625).")
    if "D" in tests:
        lines.append(f"(D): two-sided DeLong test of AUC on the predictions pooled over folds, paired by subject with `{baseline}`.")
    if roc:
        lines += ["", f"![ROC curves of the predictions pooled over folds]({RESULT_FILES['roc']})"]
    return "\n".join(lines) + "\n"


def _plot_roc(predictions: pd.DataFrame, path: Path, *, title: str) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise ImportError("write_results needs matplotlib to draw roc.png: pip install matplotlib") from exc
    from sklearn.metrics import roc_auc_score, roc_curve

    missing = [c for c in ("method", "label", "prob") if c not in predictions.columns]
    if missing:
        raise KeyError(f"predictions lacks columns {missing} (needs method, mode, fold, subject_id, label, prob)")
    if not predictions["label"].isin([0, 1]).all():
        raise ValueError("roc.png is drawn for binary labels 0/1 with prob = P(positive)")
    modes = list(dict.fromkeys(predictions["mode"])) if "mode" in predictions.columns else [None]
    fig = Figure(figsize=(5.0 * len(modes), 5.0), layout="constrained")
    FigureCanvasAgg(fig)  # Agg canvas attached to this figure only: no pyplot, no global backend change
    for ax, mode in zip(np.atleast_1d(fig.subplots(1, len(modes), squeeze=False)[0]), modes):
        part = predictions if mode is None else predictions[predictions["mode"] == mode]
        for method, curve in part.groupby("method", sort=False):
            label = curve["label"].to_numpy(dtype=int)
            if np.unique(label).size < 2:
                continue
            fpr, tpr, _ = roc_curve(label, curve["prob"].to_numpy(dtype=float))
            ax.plot(fpr, tpr, label=f"{method} (AUC {roc_auc_score(label, curve['prob']):.3f})")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
        ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01), aspect="equal",
               title="" if mode is None else f"mode: {mode}")
        ax.legend(loc="lower right", fontsize="small")
    fig.suptitle(title)
    fig.savefig(path, dpi=120)


def agg_figure(**kwargs: Any):
    """A matplotlib ``Figure`` on its own Agg canvas: no pyplot state, no global backend switch, nothing to close.

    Example:
        >>> fig = agg_figure(figsize=(2, 2))
        >>> ax = fig.subplots()
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _plot_bars(summary: pd.DataFrame, path: Path, *, title: str, key: str) -> bool:
    """One bar of ``key`` per method x mode (coloured by mode) with the CI as error bars; False if ``key`` is absent."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    part = summary[summary["metric"] == key].reset_index(drop=True)
    if part.empty:
        return False
    modes = list(dict.fromkeys(part["mode"])) if "mode" in part.columns else [None]
    colours = {mode: f"C{i}" for i, mode in enumerate(modes)}
    shown_modes = part["mode"] if "mode" in part.columns else pd.Series([None] * len(part))
    labels = [str(m) if mode is None else f"{m}\n({mode})" for m, mode in zip(part["method"], shown_modes)]
    mean = part["mean"].to_numpy(dtype=float)
    errors = np.nan_to_num(np.vstack([mean - part["low"].to_numpy(dtype=float),
                                      part["high"].to_numpy(dtype=float) - mean]))
    fig = Figure(figsize=(max(5.0, 0.9 * len(part) + 1.5), 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.bar(np.arange(len(part)), mean, 0.7, yerr=errors, capsize=3, color=[colours[m] for m in shown_modes])
    for x, (value, top) in enumerate(zip(mean, mean + errors[1])):
        ax.annotate(f"{value:.3f}", (x, top), textcoords="offset points", xytext=(0, 3), ha="center",
                    fontsize="x-small")
    ax.set_xticks(np.arange(len(part)), labels, rotation=45, ha="right", fontsize="small")
    ax.set(ylabel=f"{key} (95% CI)", title=title)
    fig.savefig(path, dpi=120)
    return True


def write_results(rows: pd.DataFrame, out_dir: str | Path, *, title: str, predictions: pd.DataFrame | None = None,
                  baseline: str | None = None, overwrite: bool = False, metrics: list[str] | None = None,
                  key: str = "auc", ci: str = "folds", n_boot: int = 1000) -> dict[str, Path]:
    """Write ``results.csv`` (``rows`` as given), ``results.md`` (summary table) and ``roc.png`` (if ``predictions``).

    The Markdown table has one row per method (and mode) and one column per metric, ``mean [low, high]`` over folds
    (see :func:`summarize_folds`). With ``baseline``, two more columns compare ``key`` with the baseline method in
    the same mode: the difference and the two-sided p-value, from :func:`wilcoxon_folds` over folds when more than
    one fold is paired, else (a single split) from :func:`delong_test` on the predictions paired by subject
    (``key="auc"`` only). ``roc.png`` has one ROC curve per method from the predictions pooled over folds (one
    panel per mode); it is drawn with the Agg canvas, without pyplot, so no display is needed.

    Args:
        rows: one row per method x mode x fold: ``method``, optional ``mode`` and ``fold``, metric columns.
        out_dir: the results folder (created if needed).
        title: heading of the Markdown file and the plot.
        predictions: ``method, mode, fold, subject_id, label, prob`` (binary labels, ``prob`` = P(positive)).
        baseline: method name to compare every other method with.
        overwrite: replace existing result files; otherwise any of them existing raises ``FileExistsError``.
        metrics: metric columns of the table (default: see :func:`summarize_folds`).
        key: the metric compared with the baseline.
        ci: ``"folds"`` (t-interval across folds of ``rows``) or ``"bootstrap"`` (pooled predictions with bootstrap
            CIs, see :func:`pooled_bootstrap`; needs ``predictions``).
        n_boot: bootstrap resamples.

    Also written: ``summary.csv`` (one row per method x mode x metric: ``mean``, ``low``, ``high``) and
    ``bars.png`` (``key`` per method with its CI).

    Returns:
        ``{"csv": path, "markdown": path, "summary": path[, "roc": path][, "bars": path]}``.

    Example:
        >>> rows = pd.DataFrame({"method": ["a", "a", "b", "b"], "fold": [0, 1, 0, 1], "auc": [.8, .82, .7, .75]})
        >>> import tempfile
        >>> paths = write_results(rows, tempfile.mkdtemp(), title="Exp 1", baseline="b")
        >>> sorted(paths), paths["markdown"].read_text().splitlines()[2]
        (['bars', 'csv', 'markdown', 'summary'], '| method | folds | auc | Δ auc vs b | p vs b |')
    """
    out = Path(out_dir)
    if "method" not in rows.columns:
        raise KeyError(f"rows needs a 'method' column (columns: {list(rows.columns)})")
    if baseline is not None and baseline not in set(rows["method"]):
        raise ValueError(f"baseline {baseline!r} is not a method of rows: {sorted(set(rows['method']))}")
    existing = [out / name for name in RESULT_FILES.values() if (out / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds results {[p.name for p in existing]}: pass overwrite=True or "
                              f"choose another folder")
    if ci not in ("folds", "bootstrap"):
        raise ValueError(f"ci must be 'folds' or 'bootstrap', got {ci!r}")
    if ci == "bootstrap":
        if predictions is None:
            raise ValueError("ci='bootstrap' needs the predictions")
        summary = pooled_bootstrap(predictions, n_boot=n_boot)
        if metrics is not None:
            summary = summary[summary["metric"].isin(metrics)]
    else:
        summary = summarize_folds(rows, metrics=metrics)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / RESULT_FILES["csv"], "markdown": out / RESULT_FILES["markdown"]}
    rows.to_csv(paths["csv"], index=False)
    paths["summary"] = out / RESULT_FILES["summary"]
    summary.to_csv(paths["summary"], index=False)
    if _plot_bars(summary, out / RESULT_FILES["bars"], title=title, key=key):
        paths["bars"] = out / RESULT_FILES["bars"]
    roc = out / RESULT_FILES["roc"]
    if predictions is not None and "prob" in predictions.columns:  # binary tasks: P(positive class)
        _plot_roc(predictions, roc, title=title)
        paths["roc"] = roc
    elif roc.exists():  # a stale plot of an earlier run (overwrite=True)
        roc.unlink()
    paths["markdown"].write_text(_markdown(rows, summary, title=title, predictions=predictions, baseline=baseline,
                                           key=key, roc="roc" in paths, ci=ci), encoding="utf-8")
    return paths
