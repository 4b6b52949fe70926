"""The real FOCUS 1.0 sample (FOCUS-Sample-Data, CC-BY-4.0) read end to end."""

from __future__ import annotations

import json
import math

import pandas as pd
import pyarrow as pa
import pytest

from ingest.focus import CANONICAL_SCHEMA, open_focus
from ingest.focus.validate import summarise


@pytest.fixture(scope="module")
def sample(sample_path):
    stream = open_focus(sample_path, batch_rows=128)
    table = stream.read_all()
    raw = pd.read_csv(sample_path, na_values=["NULL"], keep_default_na=True, dtype={"Id": str})
    return stream, table, raw


def test_reads_as_focus_1_0_with_1000_rows(sample):
    stream, table, _ = sample
    assert stream.version == "1.0"
    assert table.num_rows == stream.rows_read == 1000
    assert table.schema == CANONICAL_SCHEMA
    assert stream.bytes_read == stream.bytes_total > 0


def test_totals_equal_the_raw_file_to_the_cent(sample):
    _, table, raw = sample
    for col in ("BilledCost", "EffectiveCost", "ListCost"):
        ours = math.fsum(x for x in table[col].to_pylist() if x is not None)
        assert round(ours, 2) == round(raw[col].sum(), 2), col
        assert ours == pytest.approx(raw[col].sum(), abs=1e-9)
    per_period = raw.groupby("BillingPeriodStart")["BilledCost"].sum()
    got = table.group_by("BillingPeriodStart").aggregate([("BilledCost", "sum")]).to_pylist()
    got = {r["BillingPeriodStart"].strftime("%Y-%m-%d %H:%M:%S"): r["BilledCost_sum"] for r in got}
    assert got.keys() == set(per_period.index)
    for key, value in per_period.items():
        assert round(got[key], 2) == round(value, 2)


def test_extensions_keep_the_non_spec_id_column(sample):
    _, table, raw = sample
    ext = [json.loads(x) for x in table["x_Extensions"].to_pylist()]
    assert [e["Id"] for e in ext] == raw["Id"].tolist()
    # The deprecated PublisherName has no FOCUS 1.4 column: kept where it says more than
    # ServiceProviderName (the former ProviderName), on exactly those rows.
    differs = (raw["PublisherName"] != raw["ProviderName"]).tolist()
    assert [set(e) == {"Id", "PublisherName"} for e in ext] == differs
    assert all(set(e) == {"Id"} for e, d in zip(ext, differs, strict=True) if not d)
    assert table["ServiceProviderName"].to_pylist() == raw["ProviderName"].tolist()
    assert table["HostProviderName"].to_pylist() == raw["ProviderName"].tolist()


def test_tags_are_normalised_json_objects(sample):
    _, table, raw = sample
    for ours, theirs in zip(table["Tags"].to_pylist(), raw["Tags"].tolist(), strict=True):
        if isinstance(theirs, float):  # NaN: NULL in the file
            assert ours is None
        else:
            assert json.loads(ours) == json.loads(theirs)
            assert ours == json.dumps(json.loads(theirs), sort_keys=True, separators=(",", ":"))


def test_timestamps_are_utc_and_nulls_are_nulls(sample):
    _, table, raw = sample
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    first = table["ChargePeriodStart"][0].as_py()
    assert first.isoformat() == pd.Timestamp(raw["ChargePeriodStart"][0]).isoformat() + "+00:00"
    assert table["ChargeClass"].null_count == 1000  # literal NULL everywhere
    assert table["PricingCategory"].null_count == raw["PricingCategory"].isna().sum() == 7
    assert table["InvoiceId"].null_count == 1000  # a 1.2 column absent from a 1.0 file


def test_sample_quirks_are_warnings_not_errors(sample):
    stream, table, _ = sample
    assert table["ChargeFrequency"].to_pylist().count("Usage-Based") == 999
    assert any("'Usage-based' read as the FOCUS value 'Usage-Based'" in w for w in stream.warnings)
    assert any(w.startswith("ContractedCost: 7 row(s)") for w in stream.warnings)


def test_summary_of_the_sample(sample_path):
    raw = pd.read_csv(sample_path, na_values=["NULL"])
    s = summarise(sample_path)
    assert (s.version, s.rows, s.currency) == ("1.0", 1000, "USD")
    assert [p.start[:10] for p in s.billing_periods] == ["2024-09-01", "2024-10-01"]
    assert sum(p.rows for p in s.billing_periods) == 1000
    assert round(s.billed_cost_total, 2) == round(raw["BilledCost"].sum(), 2)
    assert round(s.effective_cost_total, 2) == round(raw["EffectiveCost"].sum(), 2)
    by_cat = raw.groupby("ChargeCategory")["BilledCost"].sum()
    for cat, value in by_cat.items():
        assert round(s.by_charge_category[cat]["billed_cost"], 2) == round(value, 2)
