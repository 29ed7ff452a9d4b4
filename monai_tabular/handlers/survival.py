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
"""Kaplan-Meier plot of predicted risk groups, from a survival run's predictions CSV."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_risk_group_plot"]


def write_risk_group_plot(predictions_csv: str | Path, output_png: str | Path | None = None, *,
                          n_groups: int = 2, title: str | None = None) -> Path | None:
    """Split the subjects of ``predictions_csv`` (columns ``time``, ``event``, ``risk``) at the predicted-risk
    quantiles and plot the Kaplan-Meier curve of each group (with a log-rank p-value for two groups).

    Returns the PNG path, or ``None`` when the CSV holds no survival predictions (another task: nothing to plot).

    Example:
        >>> write_risk_group_plot("runs/fold0/predictions_both.csv")   # doctest: +SKIP
        PosixPath('runs/fold0/predictions_both_km.png')
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from monai_tabular.metrics.survival import as_survival_array, kaplan_meier_by_group

    predictions_csv = Path(predictions_csv)
    frame = pd.read_csv(predictions_csv)
    if not {"time", "event", "risk"} <= set(frame.columns):
        return None
    output_png = Path(output_png) if output_png else predictions_csv.with_name(predictions_csv.stem + "_km.png")
    curves = kaplan_meier_by_group(frame["time"], frame["event"], frame["risk"], n_groups=n_groups)
    label = title or predictions_csv.stem
    if n_groups == 2 and len(curves) == 2:
        from sksurv.compare import compare_survival

        high = (frame["risk"] > np.median(frame["risk"])).astype(int).to_numpy()
        try:
            _, p_value = compare_survival(as_survival_array(frame["time"], frame["event"]), high)
            label += f" (log-rank p = {p_value:.3g})"
        except ValueError:
            pass
    figure, axis = plt.subplots(figsize=(5, 4))
    for name, (times, survival) in curves.items():
        axis.step(times, survival, where="post", label=name)
    axis.set_xlabel("time")
    axis.set_ylabel("survival probability (Kaplan-Meier)")
    axis.set_ylim(0, 1.02)
    axis.set_title(label, fontsize=9)
    axis.legend()
    figure.tight_layout()
    output_png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output_png, dpi=100)
    plt.close(figure)
    return output_png
