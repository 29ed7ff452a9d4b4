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
"""Tests of the real-data recipes (IXI T1 HH, Derm7pt, mfeat); skipped when ../shared/data is absent."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monai_tabular.data import recipes as recipes_module
from monai_tabular.data.recipes import (
    DATA_ENV_VAR,
    IXI_AGE_GROUPS,
    ROLES,
    Recipe,
    column_roles,
    describe,
    list_recipes,
    load_recipe,
    mfeat_from_uint8,
    mfeat_to_uint8,
    resolve_data_root,
)

pytestmark = pytest.mark.real_data

SKIP_MESSAGE = "../shared/data not found: set MONAI_TABULAR_DATA"
FEATURE_ROLES = ("image", "numerical", "categorical", "text")


@pytest.fixture(scope="module", autouse=True)
def data_root() -> Path:
    try:
        return resolve_data_root()
    except FileNotFoundError:
        pytest.skip(SKIP_MESSAGE)


@pytest.fixture(scope="module")
def mfeat_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mfeat_cache")


@pytest.fixture(scope="module")
def ixi_sex(data_root) -> Recipe:
    return load_recipe("ixi_t1_hh", data_root=data_root, task="sex")


@pytest.fixture(scope="module")
def derm_mel(data_root) -> Recipe:
    return load_recipe("derm7pt", data_root=data_root, task="mel_vs_nev")


@pytest.fixture(scope="module")
def derm_diagnosis(data_root) -> Recipe:
    with pytest.warns(UserWarning, match="fewer members than the 5 folds"):
        return load_recipe("derm7pt", data_root=data_root, task="diagnosis")


@pytest.fixture(scope="module")
def mfeat(data_root, mfeat_cache) -> Recipe:
    return load_recipe("mfeat", data_root=data_root, cache_dir=mfeat_cache)


ALL_OPTIONS = (
    [("ixi_t1_hh", {"task": t, "table": b}) for t in ("sex", "age_group", "age") for b in ("clinical", "dlmuse", "clinical+dlmuse")]
    + [("derm7pt", {"task": t, "attributes": a}) for t in ("mel_vs_nev", "diagnosis") for a in ("all", "clinical", "seven_point")]
    + [("mfeat", {}), ("mfeat", {"views": ["mor", "zer"]})]
)


def _load_any(name: str, options: dict, data_root: Path, cache: Path) -> Recipe:
    if name == "mfeat":
        options = {**options, "cache_dir": cache}
    if options.get("task") == "diagnosis":
        with pytest.warns(UserWarning, match="fewer members"):
            return load_recipe(name, data_root=data_root, **options)
    return load_recipe(name, data_root=data_root, **options)


def _fold_sizes(recipe: Recipe) -> dict:
    return pd.Series([recipe.folds[s] for s in recipe.subject_ids]).value_counts().to_dict()


# ---------------------------------------------------------------------------------------------
# data root and registry
# ---------------------------------------------------------------------------------------------
def test_resolve_data_root_argument_env_and_errors(data_root, monkeypatch, tmp_path):
    assert resolve_data_root(data_root) == data_root.resolve()
    monkeypatch.setenv(DATA_ENV_VAR, str(data_root))
    assert resolve_data_root() == data_root.resolve()
    with pytest.raises(FileNotFoundError, match=DATA_ENV_VAR):
        resolve_data_root(tmp_path / "absent")
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match=DATA_ENV_VAR):
        resolve_data_root()
    # no env, a cwd and a repo root without ../shared/data: the message says where it looked
    monkeypatch.delenv(DATA_ENV_VAR)
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    monkeypatch.setattr(recipes_module, "__file__", str(tmp_path / "a" / "b" / "pkg" / "data" / "recipes.py"))
    with pytest.raises(FileNotFoundError, match="looked at") as info:
        resolve_data_root()
    assert DATA_ENV_VAR in str(info.value) and "shared" in str(info.value)


def test_registry_and_option_errors(data_root):
    assert list_recipes() == ["ixi_t1_hh", "derm7pt", "mfeat"]
    assert set(recipes_module.RECIPES) == set(list_recipes())
    with pytest.raises(ValueError, match="ixi_t1_hh, derm7pt, mfeat"):
        load_recipe("no_such_recipe", data_root=data_root)
    with pytest.raises(ValueError, match="task"):
        load_recipe("ixi_t1_hh", data_root=data_root, task="height")
    with pytest.raises(ValueError, match="table"):
        load_recipe("ixi_t1_hh", data_root=data_root, table="genetics")
    with pytest.raises(ValueError, match="attributes"):
        load_recipe("derm7pt", data_root=data_root, attributes="dermoscopic")
    with pytest.raises(ValueError, match="no option"):
        load_recipe("derm7pt", data_root=data_root, colour=True)
    with pytest.raises(ValueError, match="views"):
        load_recipe("mfeat", data_root=data_root, views=["pix"])


def test_name_with_task_round_trips(data_root):
    recipe = load_recipe("ixi_t1_hh/age", data_root=data_root)
    assert recipe.name == "ixi_t1_hh/age" and recipe.spec["task"] == "regression"
    assert recipe.spec["label"] == "age"


# ---------------------------------------------------------------------------------------------
# every recipe: roles, string cells, leakage, folds
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,options", ALL_OPTIONS, ids=[f"{n}-{'-'.join(map(str, o.values()))}" for n, o in ALL_OPTIONS])
def test_every_column_has_exactly_one_role(name, options, data_root, mfeat_cache):
    recipe = _load_any(name, options, data_root, mfeat_cache)
    spec, table = recipe.spec, recipe.table
    assert spec["infer"] is False
    roles = column_roles(spec)
    assert set(roles) == set(table.columns), "spec and table name different columns"
    assert all(len(r) == 1 for r in roles.values()), {c: r for c, r in roles.items() if len(r) > 1}
    assert set(spec) >= set(ROLES) | {"task", "columns", "infer"}
    assert spec["image"] == ["image"]
    # every cell is a str or missing
    for column in table.columns:
        values = table[column].dropna()
        assert values.map(lambda v: isinstance(v, str)).all(), column
    # the label is never a feature, and there is one label per subject
    label = spec["label"]
    assert label not in [c for role in FEATURE_ROLES for c in spec[role]]
    assert table[label].notna().all()
    # folds cover exactly the subjects
    ids = table[spec["subject_id"]]
    assert ids.is_unique and set(recipe.folds) == set(ids)
    assert set(recipe.folds.values()) in ({0, 1, 2, 3, 4}, {"train", "val", "test"})
    # described columns exist
    assert set(spec["columns"]) <= set(table.columns)
    recipe.validate()


@pytest.mark.parametrize("name,options", ALL_OPTIONS[:15], ids=[f"{n}-{'-'.join(o.values())}" for n, o in ALL_OPTIONS[:15]])
def test_no_label_leakage(name, options, data_root, mfeat_cache):
    recipe = _load_any(name, options, data_root, mfeat_cache)
    spec, table = recipe.spec, recipe.table
    features = [c for role in FEATURE_ROLES for c in spec[role]]
    derived = {"age_group": ["age"], "label": ["diagnosis"]}.get(spec["label"], [])
    for column in derived:
        assert column in spec["ignore"], f"{column} is derived from the label '{spec['label']}'"
        assert column not in features
    assert "diagnosis" not in features
    if name == "ixi_t1_hh":
        clinical = "clinical" in options["table"]
        assert ("age" in features) == (clinical and options["task"] == "sex")
        assert ("sex" in features) == (clinical and options["task"] != "sex")
    # no categorical feature determines the label on its own
    for column in spec["categorical"]:
        purity = table.groupby(column)[spec["label"]].nunique()
        assert (purity > 1).any(), f"'{column}' determines the label"


# ---------------------------------------------------------------------------------------------
# IXI
# ---------------------------------------------------------------------------------------------
def test_ixi_counts_and_folds(ixi_sex, data_root):
    table, spec = ixi_sex.table, ixi_sex.spec
    assert len(table) == 181
    assert table["sex"].value_counts().to_dict() == {"F": 94, "M": 87}
    assert sorted(_fold_sizes(ixi_sex).values()) == [36, 36, 36, 36, 37]
    assert set(ixi_sex.folds.values()) == {0, 1, 2, 3, 4}
    assert all(isinstance(f, int) for f in ixi_sex.folds.values())
    folds_csv = pd.read_csv(data_root / "ixi_t1_hh" / "folds.csv", dtype=str)
    assert {k: str(v) for k, v in ixi_sex.folds.items()} == dict(zip(folds_csv["subject_id"], folds_csv["fold"]))
    assert spec["label"] == "sex" and spec["task"] == "classification"
    assert spec["numerical"] == ["age", "height_cm", "weight_kg"]
    assert spec["categorical"] == ["ethnic_id", "marital_id", "occupation_id", "qualification_id"]
    assert spec["ignore"] == ["segmentation"]
    assert spec["columns"]["height_cm"]["unit"] == "cm"
    for code in spec["categorical"]:
        assert not table[code].str.endswith(".0").any(), code
    assert table.loc[table["subject_id"] == "IXI012-HH-1211", "ethnic_id"].item() == "1"
    assert table.loc[table["subject_id"] == "IXI012-HH-1211", "age"].item() == "38.78"


def test_ixi_drops_unlabelled_subjects_with_a_log(data_root, caplog):
    with caplog.at_level(logging.INFO, logger="monai_tabular.data.recipes"):
        recipe = load_recipe("ixi_t1_hh", data_root=data_root, task="age_group")
    assert "dropping 4 subjects" in caplog.text and "IXI637-HH-2785" in caplog.text
    assert not recipe.table["subject_id"].isin(["IXI637-HH-2785", "IXI638-HH-2786", "IXI643-HH-2787", "IXI661-HH-2788"]).any()
    counts = recipe.table["age_group"].value_counts().to_dict()
    assert counts == {"<40": 69, "40-60": 56, ">60": 56}
    assert set(counts) == set(IXI_AGE_GROUPS)
    ages = recipe.table["age"].astype(float)
    assert (recipe.table.loc[ages < 40, "age_group"] == "<40").all()
    assert (recipe.table.loc[(ages >= 40) & (ages <= 60), "age_group"] == "40-60").all()
    assert (recipe.table.loc[ages > 60, "age_group"] == ">60").all()


def test_ixi_dlmuse_table(data_root):
    recipe = load_recipe("ixi_t1_hh", data_root=data_root, task="sex", table="clinical+dlmuse")
    rois = [c for c in recipe.table.columns if c.startswith("roi_")]
    assert len(rois) == 260 and "roi_702" in rois
    assert set(rois) <= set(recipe.spec["numerical"])
    assert recipe.spec["columns"]["roi_702"] == {"description": "volume of DLMUSE region 702", "unit": "mm^3"}
    dlmuse = pd.read_csv(data_root / "ixi_t1_hh" / "dlmuse_roi_volumes.csv", dtype=str).set_index("MRID")
    first = recipe.table.iloc[0]
    assert first["roi_702"] == dlmuse.loc[first["subject_id"], "702"]
    assert recipe.table[rois].notna().all().all()
    only = load_recipe("ixi_t1_hh", data_root=data_root, task="sex", table="dlmuse")
    assert len(only.table) == 181 and only.spec["categorical"] == [] and "age" not in only.table.columns


def test_ixi_images_exist(ixi_sex):
    for _, row in ixi_sex.table.head(4).iterrows():
        assert (ixi_sex.image_root / row["image"]).is_file()
        assert (ixi_sex.image_root / row["segmentation"]).is_file()


# ---------------------------------------------------------------------------------------------
# Derm7pt
# ---------------------------------------------------------------------------------------------
def test_derm7pt_mel_vs_nev(derm_mel):
    table, spec = derm_mel.table, derm_mel.spec
    assert len(table) == 827
    assert table["label"].value_counts().to_dict() == {"NEV": 575, "MEL": 252}
    assert _fold_sizes(derm_mel) == {"train": 346, "test": 320, "val": 161}
    assert spec["ignore"] == ["diagnosis"]
    assert table.loc[table["label"] == "MEL", "diagnosis"].str.startswith("melanoma").all()
    assert not table.loc[table["label"] == "NEV", "diagnosis"].str.startswith("melanoma").any()
    assert spec["numerical"] == ["seven_point_score"]
    assert len(spec["categorical"]) == 5 + 7


def test_derm7pt_attribute_sets(data_root):
    clinical = load_recipe("derm7pt", data_root=data_root, attributes="clinical")
    assert set(clinical.spec["categorical"]) == {"sex", "management", "location", "elevation", "level_of_diagnostic_difficulty"}
    assert clinical.spec["numerical"] == []
    seven = load_recipe("derm7pt", data_root=data_root, attributes="seven_point")
    assert len(seven.spec["categorical"]) == 7 and seven.spec["numerical"] == ["seven_point_score"]
    assert "sex" not in seven.table.columns


def test_derm7pt_diagnosis(derm_diagnosis):
    table = derm_diagnosis.table
    assert len(table) == 1011
    assert table["diagnosis"].nunique() == 20
    assert table["diagnosis"].value_counts()["clark nevus"] == 399
    assert sorted(_fold_sizes(derm_diagnosis).values()) == [202, 202, 202, 202, 203]
    # stratified: every class with at least 5 cases is in every fold
    folds = table["case_id"].map(derm_diagnosis.folds)
    per_class = pd.crosstab(table["diagnosis"], folds)
    common = per_class[per_class.sum(axis=1) >= 5]
    assert (common > 0).all().all()
    assert derm_diagnosis.spec["ignore"] == []


def test_derm7pt_images_exist(derm_mel, derm_diagnosis):
    for recipe in (derm_mel, derm_diagnosis):
        for path in recipe.table["image"].head(4):
            assert (recipe.image_root / path).is_file()
            assert recipe.image_root.name == "derm7pt"


# ---------------------------------------------------------------------------------------------
# mfeat
# ---------------------------------------------------------------------------------------------
def test_mfeat_counts_and_columns(mfeat):
    table, spec = mfeat.table, mfeat.spec
    assert len(table) == 2000
    assert table["digit"].value_counts().to_dict() == {str(d): 200 for d in range(10)}
    assert table["subject_id"].iloc[0] == "mfeat_0000" and table["subject_id"].iloc[-1] == "mfeat_1999"
    assert len(spec["numerical"]) == 76 + 216 + 64 + 47 + 6
    assert spec["numerical"][0] == "fou_0" and spec["numerical"][-1] == "mor_5"
    assert spec["categorical"] == [] and spec["label"] == "digit"
    assert _fold_sizes(mfeat) == {0: 400, 1: 400, 2: 400, 3: 400, 4: 400}
    per_fold = pd.crosstab(table["digit"], table["subject_id"].map(mfeat.folds))
    assert (per_fold == 40).all().all()


def test_mfeat_views_option(data_root, mfeat_cache):
    recipe = load_recipe("mfeat", data_root=data_root, views=["zer", "mor"], cache_dir=mfeat_cache)
    assert recipe.spec["numerical"] == [f"zer_{i}" for i in range(47)] + [f"mor_{i}" for i in range(6)]
    assert recipe.table.loc[0, "mor_3"] == "133.15"


def test_mfeat_png_round_trips_to_csv(mfeat, data_root):
    from PIL import Image

    row = 1234
    pix = pd.read_csv(data_root / "mfeat" / "mfeat-pix.csv", header=None, skiprows=1).iloc[row]
    values = pix.iloc[:240].to_numpy(dtype=np.int64)
    path = mfeat.image_root / mfeat.table.loc[row, "image"]
    assert path.parent == mfeat.image_root and path.name == "mfeat_1234.png"
    with Image.open(path) as image:
        assert image.mode == "L" and image.size == (15, 16)
        pixels = np.asarray(image)
    assert pixels.shape == (16, 15) and pixels.max() <= 255
    np.testing.assert_array_equal(mfeat_from_uint8(pixels).ravel(), values)
    assert str(pix.iloc[240]) == mfeat.table.loc[row, "digit"]
    assert mfeat_to_uint8(np.arange(7)).tolist() == [0, 43, 85, 128, 170, 213, 255]


def test_mfeat_cache_skips_identical_and_repairs(mfeat, data_root, mfeat_cache):
    first, second = mfeat_cache / "mfeat_0000.png", mfeat_cache / "mfeat_0001.png"
    stamp = first.stat().st_mtime_ns
    second.write_bytes(b"not a png")
    load_recipe("mfeat", data_root=data_root, views=["mor"], cache_dir=mfeat_cache)
    assert first.stat().st_mtime_ns == stamp
    from PIL import Image

    with Image.open(second) as image:
        assert image.size == (15, 16)


def test_mfeat_never_writes_into_the_data_root(data_root):
    target = data_root / "mfeat" / "png_cache"
    with pytest.raises(ValueError, match="inside the data root"):
        load_recipe("mfeat", data_root=data_root, cache_dir=target)
    assert not target.exists()


def test_mfeat_images_exist(mfeat):
    for path in mfeat.table["image"].head(4):
        assert (mfeat.image_root / path).is_file()


# ---------------------------------------------------------------------------------------------
# subset, describe
# ---------------------------------------------------------------------------------------------
def test_subset_is_fold_stratified(derm_mel, mfeat):
    small = derm_mel.subset(n=8)
    assert len(small.table) == 8 and set(small.folds) == set(small.subject_ids)
    assert set(small.folds.values()) == {"train", "val", "test"}
    assert small.spec == derm_mel.spec and small.spec is not derm_mel.spec
    assert len(mfeat.subset(n=5).table) == 5 and set(mfeat.subset(n=5).folds.values()) == {0, 1, 2, 3, 4}
    assert len(derm_mel.subset(n=10_000).table) == 827
    with pytest.raises(ValueError):
        derm_mel.subset(n=0)


def test_describe(derm_mel, ixi_sex):
    text = describe(derm_mel)
    assert "827 subjects" in text and "MEL 252" in text and "NEV 575" in text
    assert "train 346" in text and "val 161" in text and "test 320" in text
    assert "categorical 12" in text
    age = load_recipe("ixi_t1_hh", data_root=ixi_sex.image_root.parent, task="age")
    assert "regression" in describe(age) and "181 subjects" in describe(age)


# ---------------------------------------------------------------------------------------------
# datalist (monai_tabular.data.datalist.build_datalist)
# ---------------------------------------------------------------------------------------------
def _check_datalist(recipe: Recipe) -> None:
    small = recipe.subset(n=8)
    items = small.datalist(check_images="exists")
    assert isinstance(items, list) and len(items) == 8
    labels = dict(zip(small.subject_ids, small.table[small.spec["label"]]))
    for item in items:
        assert isinstance(item, dict)
        assert item["subject_id"] in labels and str(item["label"]) == labels[item["subject_id"]]
        assert Path(item["image"]).is_file()


def test_datalist_ixi(ixi_sex):
    _check_datalist(ixi_sex)


def test_datalist_derm7pt(derm_mel):
    _check_datalist(derm_mel)


def test_datalist_mfeat(mfeat):
    _check_datalist(mfeat)


def test_recipe_schemas_fit_on_training_folds():
    from monai_tabular.data import TableSchema

    recipe = load_recipe("derm7pt", task="mel_vs_nev")
    train = recipe.table[recipe.table["case_id"].map(recipe.folds) == "train"]
    schema = TableSchema.from_table(recipe.table, recipe.spec).fit(train)
    assert schema.label_classes["label"] == ["NEV", "MEL"]  # MEL is the positive class
    assert schema.source["n_rows_fit"] == 346
    ixi = load_recipe("ixi_t1_hh", task="age_group")
    schema = TableSchema.from_table(ixi.table, ixi.spec).fit(ixi.table)
    assert schema.label_classes["age_group"] == ["<40", "40-60", ">60"]
    assert "age" not in schema.features
