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
"""Bad input is one ``error: ...`` line with exit code 2 (``--debug`` shows the traceback); options parse."""

from __future__ import annotations

import json

import pytest
from tests.cli.cli_helpers import TINY

from monai_tabular.cli.bundles import find_bundle
from monai_tabular.cli.errors import CLIError, find_bad_input
from monai_tabular.cli.main import COMMANDS, main
from monai_tabular.cli.overrides import load_config, parse_folds, parse_sets


@pytest.mark.parametrize("command", [m.NAME for m in COMMANDS])
def test_help_of_each_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"monai-tabular {command}" in capsys.readouterr().out


def test_unknown_bundle_lists_where_it_looked(trained_project, capsys):
    config = str(trained_project["project"] / "config.json")
    assert main(["train", "--bundle", "no_such_bundle", "--config", config]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bundle 'no_such_bundle' not found") and "looked in" in err
    assert "image_table_baseline" in err and "Traceback" not in err


def test_unknown_encoder_lists_the_encoders(trained_project, tmp_path, capsys):
    args = ["train", "--config", str(trained_project["project"] / "config.json"), *TINY,
            "--set", "image_encoder=nope", "--set", f"output_dir={tmp_path}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error: unknown encoder 'nope'" in err and "resnet18" in err and "mlp" in err
    assert err.count("\n") == 1  # one line
    with pytest.raises(Exception) as raised:  # --debug: the traceback, with the bundle's wrapping kept
        main(["--debug", *args])
    assert "unknown encoder 'nope'" in str(find_bad_input(raised.value))


def test_missing_table_and_existing_project(trained_project, tmp_path, capsys):
    assert main(["init", "--csv", str(tmp_path / "absent.csv"), "--label", "y", "--output", str(tmp_path)]) == 2
    assert "absent.csv does not exist" in capsys.readouterr().err
    assert main(["init", "--csv", str(trained_project["csv"]), "--label", "diagnosis",
                 "--output", str(trained_project["project"])]) == 2
    assert "--force" in capsys.readouterr().err


def test_bad_set_value_and_folds(trained_project, capsys):
    config = str(trained_project["project"] / "config.json")
    assert main(["train", "--config", config, "--set", "epochs"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["evaluate", "--config", config, *TINY, "--folds", "7"]) == 2
    assert "fold 7" in capsys.readouterr().err


def test_option_parsing(tmp_path, monkeypatch):
    assert parse_sets(["epochs=2", "lr=1e-3", "amp=true", "model=table", "ids=[1, 2]", "empty="]) == {
        "epochs": 2, "lr": 0.001, "amp": True, "model": "table", "ids": [1, 2], "empty": ""}
    assert parse_folds("all") == "all" and parse_folds("0,1,2") == [0, 1, 2] and parse_folds(None) is None
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"csv": "data/t.csv", "spec": "/abs/spec.json", "epochs": 2}))
    loaded = load_config(config)
    assert loaded["csv"] == str((tmp_path / "data" / "t.csv").resolve()) and loaded["spec"] == "/abs/spec.json"
    # a bundle name is looked up in $MONAI_TABULAR_BUNDLES first
    (tmp_path / "bundles").mkdir()
    (tmp_path / "bundles" / "mine").symlink_to(find_bundle("image_table_baseline"))
    monkeypatch.setenv("MONAI_TABULAR_BUNDLES", str(tmp_path / "bundles"))
    assert find_bundle("mine") == find_bundle("image_table_baseline")
    with pytest.raises(CLIError, match="mine"):
        find_bundle(tmp_path / "mine")
