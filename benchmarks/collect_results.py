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
"""Collect the fold runner's ``results.md`` tables of ``benchmarks/run_baselines.py`` into ``docs/results.md``.

    python benchmarks/run_baselines.py --output-dir runs/baselines      # (hours on 2 CPU cores; resumes)
    python benchmarks/collect_results.py --runs runs/baselines --output docs/results.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HEADER = """# Results

Every table below is written by the fold runner (`monai_tabular.engines.run_folds`) and copied here by
`benchmarks/collect_results.py`; regenerate them with

```bash
python benchmarks/run_baselines.py --output-dir runs/baselines     # resumes finished folds
python benchmarks/collect_results.py --runs runs/baselines --output docs/results.md
```

Metrics are computed on the predictions pooled over the test parts of all folds (each subject predicted once,
by the model that did not train or select on it), with 95% percentile bootstrap CIs (1000 resamples of subjects,
stratified by class). Binary tasks compare each model's AUC with the logistic-regression row on the same table and
split by a two-sided DeLong test paired by subject (D); multi-class tasks use a Wilcoxon signed-rank test over
folds (W). A deep model claims a gain only where it beats the logistic-regression row with p < 0.05.
Modes: `both` = image and table, `image_only` / `table_only` = the fusion model with the other modality absent
(replaced by its learned "missing" embedding), or a single-modality model.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/baselines")
    parser.add_argument("--output", default="docs/results.md")
    args = parser.parse_args()
    parts = [HEADER]
    for results in sorted(Path(args.runs).glob("*/results/results.md")):
        run = json.loads((results.parent / "run.json").read_text())
        text = results.read_text().replace("# ", "## ", 1)
        text = text.replace("](roc.png)", f"](figures/{results.parent.parent.name}_roc.png)")
        settings = {k: v for k, v in run["overrides"].items() if k != "dataset_dir"}
        parts.append(f"{text}\nSettings: bundle `image_table_baseline`, models {run['models']}, folds "
                     f"{run['folds']}, overrides `{json.dumps(settings)}`.\n")
        roc = results.parent / "roc.png"
        if roc.is_file():
            figures = Path(args.output).parent / "figures"
            figures.mkdir(parents=True, exist_ok=True)
            (figures / f"{results.parent.parent.name}_roc.png").write_bytes(roc.read_bytes())
    Path(args.output).write_text("\n".join(parts))
    print(f"wrote {args.output} from {len(parts) - 1} result tables")


if __name__ == "__main__":
    main()
