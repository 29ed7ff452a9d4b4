# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License"); see the LICENSE file.
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from monai.data import CacheDataset, DataLoader, PersistentDataset
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, RandFlipd, ScaleIntensityd

from monai_tabular.data import SchemaError, TableDataError, TableSchema, build_datalist
from monai_tabular.transforms import (
    AttributeSentencesd,
    CorruptTabled,
    EncodeLabeld,
    EncodeTabled,
    RandMaskAttributesd,
    TableMarginals,
)


@pytest.fixture()
def fitted(cohort3d):
    schema = TableSchema.from_table(cohort3d.csv_path, cohort3d.spec).fit(cohort3d.csv_path)
    records = build_datalist(cohort3d.csv_path, schema, check_images="none")
    return schema, records


def test_encode_masks_missing_cells(fitted):
    schema, records = fitted
    record = next(r for r in records if r["table"]["biomarker"] is None)
    out = EncodeTabled(schema=schema)(record)
    index = schema.numerical.index("biomarker")
    assert out["numerical_mask"][index] == 0 and out["numerical"][index] == 0
    assert "table" not in out and out["numerical"].dtype == torch.float32 and out["categorical"].dtype == torch.long
    kept = EncodeTabled(schema=schema, keep_source=True, prefix="clin_")(record)
    assert "table" in kept and "clin_numerical" in kept


def test_masked_value_has_no_effect(fitted):
    schema, records = fitted
    row = dict(records[0]["table"], biomarker=None)
    a = EncodeTabled(schema=schema)({"table": row})
    b = EncodeTabled(schema=schema)({"table": dict(row, biomarker=float("nan"))})
    for key in a:
        assert torch.equal(a[key], b[key])


def test_encode_bad_numerical_names_subject_and_column(fitted):
    schema, records = fitted
    record = dict(records[0], table=dict(records[0]["table"], age="old"))
    with pytest.raises(TableDataError, match=r"subject 'sub-0000'.*'old'.*'age'"):
        EncodeTabled(schema=schema)(record)


def test_encode_label(fitted):
    schema, records = fitted
    out = EncodeLabeld(schema=schema)(records[0])
    assert out["label"].dtype == torch.long
    assert schema.label_classes["label"][int(out["label"])] == records[0]["label"]


def test_sentences(fitted):
    schema, records = fitted
    transform = AttributeSentencesd(schema=schema, templates={"age": "The patient is {value} {unit} old."})
    row = {"age": 61.0, "biomarker": None, "sex": "X-unseen", "site": "B", "smoker": "no", "notes": "all fine"}
    sentences = transform({"table": row})["sentences"]
    assert sentences[:3] == ["The patient is 61 years old.", "The serum biomarker level is unknown.",
                             "The sex is X-unseen."]
    assert len(sentences) == len(schema.features)
    with pytest.raises(SchemaError, match="unknown attribute"):
        AttributeSentencesd(schema=schema, templates={"heart_rate": "{value}"})
    with pytest.raises(SchemaError, match="unknown field"):
        AttributeSentencesd(schema=schema, template="The {attribute} is {value}.")
    with pytest.raises(KeyError, match="before EncodeTabled"):
        AttributeSentencesd(schema=schema)(EncodeTabled(schema=schema)(records[0]))


def test_corruption_draws_from_training_marginals(fitted):
    schema, records = fitted
    encode = EncodeTabled(schema=schema)
    batch = [encode(r) for r in records]
    corrupt = CorruptTabled(schema=schema, rate=0.5)
    corrupt.set_random_state(seed=3)
    allowed_num = {c: {round((v - schema[c].center) / schema[c].scale, 4) for v in schema[c].marginal}
                   for c in schema.numerical}
    hits, observed = 0, 0
    for sample in batch * 10:
        out = corrupt(sample)
        flags, mask = out["numerical_corruption"], sample["numerical_mask"]
        assert torch.all(flags <= mask)  # missing cells are never corrupted
        for i, name in enumerate(schema.numerical):
            if flags[i]:
                assert round(float(out["numerical"][i]), 4) in allowed_num[name]
            else:
                assert out["numerical"][i] == sample["numerical"][i]
        cat_flags = out["categorical_corruption"]
        assert torch.all(cat_flags <= sample["categorical_mask"])
        assert torch.all(out["categorical"][cat_flags > 0] >= 1)  # never the unknown index
        assert torch.equal(out["numerical_original"], sample["numerical"])
        hits += int(flags.sum() + cat_flags.sum())
        observed += int(mask.sum() + sample["categorical_mask"].sum())
    assert 0.4 < hits / observed < 0.6


def test_corruption_frequencies_follow_marginal(fitted):
    schema, _ = fitted
    marginals = TableMarginals.from_schema(schema)
    draws = marginals.sample((20000,), kind="categorical", generator=torch.Generator().manual_seed(0))
    site = schema.categorical.index("site")
    counts = np.asarray(schema["site"].counts, dtype=float)
    freq = np.bincount(draws[:, site].numpy(), minlength=len(counts) + 1)[1:] / len(draws)
    np.testing.assert_allclose(freq, counts / counts.sum(), atol=0.02)


def test_corruption_deterministic_and_validated(fitted):
    schema, records = fitted
    sample = EncodeTabled(schema=schema)(records[0])
    a, b = CorruptTabled(schema=schema, rate=0.5), CorruptTabled(schema=schema, rate=0.5)
    a.set_random_state(seed=7)
    b.set_random_state(seed=7)
    for _ in range(3):
        assert torch.equal(a(sample)["numerical"], b(sample)["numerical"])
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            CorruptTabled(schema=schema, rate=rate)


def test_constant_column_excluded_from_corruption(tmp_path):
    frame = pd.DataFrame({"id": list("abcdef"), "x": [1.0, 2, 3, 4, 5, 6], "const": [5.0] * 6,
                          "y": list("010101")})
    with pytest.warns(UserWarning, match="'const'"):
        schema = TableSchema.from_table(frame, {"subject_id": "id", "label": "y", "numerical": ["x", "const"]}).fit(frame)
    with pytest.warns(UserWarning, match="'const' has a single observed"):
        corrupt = CorruptTabled(("numerical",), schema=schema, rate=0.99)
    out = corrupt({"numerical": torch.zeros(2), "numerical_mask": torch.ones(2)})
    assert out["numerical_corruption"][schema.numerical.index("const")] == 0


def test_batch_corruption_is_vectorised(fitted):
    schema, records = fitted
    arrays = schema.encode_frame(pd.read_csv(records[0]["image"].rsplit("/images/", 1)[0] + "/cohort.csv"))
    values, mask = torch.from_numpy(arrays["numerical"]), torch.from_numpy(arrays["numerical_mask"])
    out, flags = TableMarginals.from_schema(schema).corrupt(values, mask, kind="numerical", rate=0.3)
    assert out.shape == values.shape and torch.all(flags <= mask)


def test_random_attribute_masking(fitted):
    schema, records = fitted
    mask_t = RandMaskAttributesd(rate=0.5)
    mask_t.set_random_state(seed=0)
    sample = EncodeTabled(schema=schema)(records[0])
    out = mask_t(sample)
    dropped = out["numerical_dropped"] > 0
    assert torch.all(out["numerical_mask"][dropped] == 0) and torch.all(out["numerical"][dropped] == 0)
    assert torch.all(sample["numerical_mask"][dropped] == 1)  # only observed cells are hidden
    with pytest.raises(ValueError):
        RandMaskAttributesd(rate=1.5)


@pytest.mark.parametrize("cohort_name", ["cohort3d", "cohort2d"])
def test_inside_monai_compose_cachedataset_dataloader(cohort_name, request, tmp_path):
    cohort = request.getfixturevalue(cohort_name)
    schema = TableSchema.from_table(cohort.csv_path, cohort.spec).fit(cohort.csv_path)
    schema_path = schema.save(tmp_path / "schema.json")
    records = build_datalist(cohort.csv_path, schema_path)
    pipeline = Compose([
        LoadImaged("image", image_only=True), EnsureChannelFirstd("image"), ScaleIntensityd("image"),
        AttributeSentencesd(schema=str(schema_path)), EncodeTabled(schema=str(schema_path)),
        EncodeLabeld(schema=str(schema_path)),
        RandFlipd("image", prob=0.5, spatial_axis=0), CorruptTabled(schema=str(schema_path), rate=0.2),
    ])
    pipeline.set_random_state(seed=0)
    dataset = CacheDataset(records, pipeline, progress=False, num_workers=0)
    batch = next(iter(DataLoader(dataset, batch_size=4, num_workers=0)))
    spatial = cohort.spatial_dims
    assert batch["image"].shape[:2] == (4, 1) and batch["image"].ndim == 2 + spatial
    assert batch["numerical"].shape == (4, len(schema.numerical))
    assert batch["categorical"].shape == (4, len(schema.categorical))
    assert batch["label"].shape == (4,) and batch["label"].dtype == torch.long
    assert len(batch["sentences"]) == len(schema.features) and len(batch["sentences"][0]) == 4
    persistent = PersistentDataset(records, pipeline, cache_dir=tmp_path / "persist")
    assert persistent[0]["numerical"].shape == (len(schema.numerical),)
