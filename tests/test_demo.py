# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
from __future__ import annotations

from monai_tabular.data import TableSchema
from monai_tabular.demo import run_demo


def test_demo_runs_and_saves_a_fitted_schema(tmp_path, capsys):
    summary = run_demo(tmp_path, spatial_dims=2, n_subjects=30, batch_size=4)
    assert summary["n_train"] + summary["n_val"] == 30
    schema = TableSchema.load(summary["schema"])
    assert schema.is_fitted and schema.source["n_rows_fit"] == summary["n_train"]
    assert summary["shapes"]["numerical"][1] == len(schema.numerical)
    out = capsys.readouterr().out
    assert "missing cells carried as masks" in out and "The age is" in out
