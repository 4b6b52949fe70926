"""Generated FOCUS 1.0/1.1/1.2 files in CSV, CSV.gz and Parquet read back exactly."""

from __future__ import annotations

import csv
import io
import json
import math
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from focus_helpers import raw_frame

from fixtures_gen.focus_files import write_focus_file
from ingest.focus import CANONICAL_SCHEMA, open_focus
from ingest.focus.schema import columns_for

VERSIONS = ["1.0", "1.1", "1.2"]
FORMATS = ["csv", "csv.gz", "parquet"]
ROWS = 3000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = {}
    d = tmp_path_factory.mktemp("gen")
    for v in VERSIONS:
        for fmt in FORMATS:
            path = d / f"focus_{v}.{fmt}"
            out[(v, fmt)] = write_focus_file(
                path, version=v, rows=ROWS, seed=7, periods=3, batch_rows=1000
            )
    return out


@pytest.fixture(scope="module")
def tables(files):
    return {key: open_focus(g.path, batch_rows=700).read_all() for key, g in files.items()}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("version", VERSIONS)
def test_totals_match_the_raw_file_to_the_cent(files, tables, version, fmt):
    g = files[(version, fmt)]
    table = tables[(version, fmt)]
    raw = raw_frame(g.path)
    assert table.num_rows == len(raw) == ROWS
    assert table.schema == CANONICAL_SCHEMA
    for col in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        ours = math.fsum(table[col].to_pylist())
        assert round(ours, 2) == round(float(raw[col].sum()), 2), col
    # per billing period and per ChargeCategory, against pandas on the raw file
    raw["period"] = pd.to_datetime(raw["BillingPeriodStart"], utc=True).dt.strftime("%Y-%m")
    ours = table.to_pandas()
    ours["period"] = ours["BillingPeriodStart"].dt.strftime("%Y-%m")
    for keys in (["period"], ["period", "ChargeCategory"]):
        a = raw.groupby(keys)["BilledCost"].sum().round(2)
        b = ours.groupby(keys)["BilledCost"].sum().round(2)
        pd.testing.assert_series_equal(a, b, check_exact=True)
    assert sorted(ours["period"].unique()) == ["2026-01", "2026-02", "2026-03"]
    assert round(g.billed_cost_total, 2) == round(float(raw["BilledCost"].sum()), 2)


@pytest.mark.parametrize("version", VERSIONS)
def test_formats_give_identical_canonical_rows(tables, version):
    csv_rows = tables[(version, "csv")]
    assert tables[(version, "csv.gz")].equals(csv_rows)
    assert tables[(version, "parquet")].equals(csv_rows)


def test_versions_normalise_to_the_same_shape(tables):
    """The same rows written as 1.0 and as 1.2 agree on every 1.0 column; 1.2-only
    columns are null in the 1.0 reading."""
    v10, v12 = tables[("1.0", "parquet")], tables[("1.2", "parquet")]
    for spec in columns_for("1.0"):
        if spec.name in v10.column_names:  # ProviderName/PublisherName: mapped to 1.4 columns
            assert v10[spec.name].equals(v12[spec.name]), spec.name
    assert v10["ServiceProviderName"].equals(v12["ServiceProviderName"])
    only_12 = {c.name for c in columns_for("1.2")} - {c.name for c in columns_for("1.0")}
    for name in only_12:
        assert v10[name].null_count == ROWS, name
    assert v12["InvoiceId"].null_count == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_version_is_detected(files, version):
    for fmt in FORMATS:
        assert open_focus(files[(version, fmt)].path).version == version


def test_generated_rows_look_like_a_gpu_bill(tables):
    t = tables[("1.2", "parquet")].to_pandas()
    assert set(t["ServiceProviderName"]) == {"AWS", "Microsoft", "Google"}
    assert set(t["ChargeCategory"]) == {"Usage", "Purchase", "Credit", "Adjustment", "Tax"}
    assert set(t["PricingCategory"].dropna()) == {"Standard", "Dynamic", "Committed"}
    assert (t.loc[t["ChargeCategory"] == "Credit", "BilledCost"] < 0).all()
    tags = [json.loads(x) for x in t["Tags"].dropna()]
    assert any("service" in x for x in tags) and any("service" not in x for x in tags)
    assert t["Tags"].isna().any()
    ext = t["x_Extensions"].dropna().map(json.loads)
    # PublisherName (deprecated, no 1.4 column) is kept where it differs from the provider.
    assert {"x_GpuType", "x_GpuCount", "PublisherName"} == set().union(*ext)
    usage = t[t["ChargeCategory"] == "Usage"]
    assert (usage["ChargePeriodEnd"] - usage["ChargePeriodStart"] == pd.Timedelta(hours=1)).all()


def test_generation_is_deterministic(tmp_path):
    a = write_focus_file(tmp_path / "a.csv", rows=500, seed=11)
    b = write_focus_file(tmp_path / "b.csv", rows=500, seed=11)
    c = write_focus_file(tmp_path / "c.csv", rows=500, seed=12)
    assert a.path.read_bytes() == b.path.read_bytes() != c.path.read_bytes()


@pytest.mark.parametrize("fmt", FORMATS)
def test_batches_have_exactly_batch_rows(files, fmt):
    stream = open_focus(files[("1.1", fmt)].path, batch_rows=700)
    sizes, running = [], []
    for batch in stream:
        sizes.append(batch.num_rows)
        running.append(stream.rows_read)
    assert sizes == [700, 700, 700, 700, 200]
    assert running == [700, 1400, 2100, 2800, 3000]
    assert stream.bytes_read is not None and stream.bytes_read <= stream.bytes_total


def test_streaming_memory_is_bounded(tmp_path):
    """Peak Arrow memory while streaming stays a small fraction of the whole table."""
    path = tmp_path / "big.parquet"
    write_focus_file(path, rows=120_000, seed=5, batch_rows=20_000)
    whole = open_focus(path).read_all()
    full_bytes = whole.nbytes
    del whole
    pool = pa.default_memory_pool()
    base = pool.bytes_allocated()
    peak = 0
    stream = open_focus(path, batch_rows=5_000)
    for batch in stream:
        peak = max(peak, pool.bytes_allocated() - base)
        del batch
    assert stream.rows_read == 120_000
    assert peak < full_bytes / 4, (peak, full_bytes)


def test_stream_is_single_pass(files):
    stream = open_focus(files[("1.2", "csv")].path)
    assert sum(b.num_rows for b in stream) == ROWS
    with pytest.raises(RuntimeError, match="only once"):
        list(stream)


def test_csv_dialect_variants(tmp_path, base_rows):
    """BOM, CRLF, quoted NULL, and the three timestamp spellings all read as UTC."""
    header = base_rows[0]
    rows = [list(r) for r in base_rows[:4]]
    i = header.index("ChargePeriodStart")
    rows[1][i], rows[2][i], rows[3][i] = (
        "2026-01-01 00:00:00",
        "2026-01-01T00:00:00Z",
        "2026-01-01T02:00:00+02:00",
    )
    j = header.index("ChargePeriodEnd")
    for r in rows[1:]:
        r[j] = "2026-01-01T01:00:00.000Z"
    rows[1][header.index("ResourceName")] = "NULL"
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    path = tmp_path / "dialect.csv"
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode())
    table = open_focus(path).read_all()
    starts = {v.isoformat() for v in table["ChargePeriodStart"].to_pylist()}
    assert starts == {"2026-01-01T00:00:00+00:00"}
    assert table["ResourceName"][0].as_py() is None
    assert table["AvailabilityZone"].to_pylist() == [r[0] or None for r in rows[1:]]


def test_parquet_native_types_are_cast(tmp_path):
    """Parquet written by other tools: decimal128 costs, naive ms timestamps, map tags,
    dictionary strings, int ids, an int provider column -> canonical types."""
    src = tmp_path / "g.parquet"
    write_focus_file(src, version="1.0", rows=50, seed=9, extensions=False)
    t = pq.read_table(src)
    billed = [Decimal(str(round(x, 6))) for x in t["BilledCost"].to_pylist()]
    t = t.set_column(
        t.schema.get_field_index("BilledCost"), "BilledCost", pa.array(billed, pa.decimal128(18, 6))
    )
    naive = t["ChargePeriodStart"].cast(pa.timestamp("ms"))
    t = t.set_column(t.schema.get_field_index("ChargePeriodStart"), "ChargePeriodStart", naive)
    tags = pa.array(
        [[("service", "chat"), ("env", "prod")]] * 50, pa.map_(pa.string(), pa.string())
    )
    t = t.set_column(t.schema.get_field_index("Tags"), "Tags", tags)
    t = t.set_column(
        t.schema.get_field_index("ServiceName"),
        "ServiceName",
        t["ServiceName"].combine_chunks().dictionary_encode(),
    )
    t = t.append_column("x_Rank", pa.array(range(50), pa.int64()))
    out = tmp_path / "native.parquet"
    pq.write_table(t, out)
    got = open_focus(out).read_all()
    assert math.fsum(got["BilledCost"].to_pylist()) == pytest.approx(float(sum(billed)), abs=1e-9)
    assert (
        got["ChargePeriodStart"].to_pylist() == pq.read_table(src)["ChargePeriodStart"].to_pylist()
    )
    assert set(got["Tags"].to_pylist()) == {'{"env":"prod","service":"chat"}'}
    assert json.loads(got["x_Extensions"][7].as_py()) == {"x_Rank": "7"}
    assert got["ServiceName"].type == pa.string()


def test_extension_values_are_escaped_json(tmp_path, base_rows):
    header = base_rows[0] + ["x_Note", "Id"]
    rows = [header] + [r + ['say "hi"\\\n\tok', ""] for r in base_rows[1:3]]
    from focus_helpers import write_rows

    path = write_rows(tmp_path / "ext.csv", rows)
    ext = open_focus(path).read_all()["x_Extensions"].to_pylist()
    for text in ext:
        obj = json.loads(text)
        assert obj["x_Note"] == 'say "hi"\\\n\tok'
        assert "Id" not in obj  # empty -> null -> omitted


def test_header_names_are_trimmed_and_all_null_columns_work(tmp_path, base_rows):
    from focus_helpers import write_rows

    rows = [list(r) for r in base_rows[:6]]
    rows[0] = [f" {c} " if c in ("BilledCost", "ServiceName") else c for c in rows[0]]
    t = rows[0].index("Tags")
    for r in rows[1:]:
        r[t] = "NULL"
    table = open_focus(write_rows(tmp_path / "sp.csv", rows)).read_all()
    b = rows[0].index(" BilledCost ")
    assert table["BilledCost"].to_pylist() == [float(r[b]) for r in rows[1:]]
    assert table["ServiceName"].null_count == 0
    assert table["Tags"].null_count == 5
