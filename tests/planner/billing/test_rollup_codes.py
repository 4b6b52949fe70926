"""The integer-coded rollup against DuckDB's daily rollup computed straight from the file.

The oracle is SQL over the Parquet file (as in ``bench/ingest.py``): an implementation that
shares nothing with :mod:`planner.billing.rollup` except the rule for ``service_tag``.
Compaction is forced every few batches, so merged and fresh partials are combined.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from fixtures_gen.focus_files import write_focus_file
from ingest.focus import open_focus
from planner.billing import rollup as rollup_mod

ORACLE = """
SELECT CAST(ChargePeriodStart AS DATE) AS date, CAST(BillingPeriodStart AS DATE) AS period,
       coalesce(ProviderName, '') AS provider, coalesce(ServiceName, '') AS service_name,
       coalesce(RegionId, '') AS region, coalesce(ResourceId, '') AS resource_id,
       coalesce(SkuId, '') AS sku, coalesce(PricingCategory, '') AS pricing_category,
       coalesce(ChargeCategory, '') AS charge_category,
       coalesce(BillingCurrency, '') AS currency,
       coalesce(nullif(json_extract_string(SkuPriceDetails, '$.InstanceType'), ''),
                nullif(json_extract_string(SkuPriceDetails, '$.x_InstanceType'), ''),
                nullif(json_extract_string(SkuPriceDetails, '$.ServiceType'), ''),
                nullif(json_extract_string(SkuPriceDetails, '$.x_ServiceType'), ''),
                nullif(json_extract_string(Tags, '$."compute.googleapis.com/machine_spec"'), ''),
                '') AS instance_type,
       coalesce(nullif(regexp_extract(Tags, '"service"\\s*:\\s*"([^"]*)"', 1), ''),
                nullif(regexp_extract(Tags, '"app"\\s*:\\s*"([^"]*)"', 1), ''), '') AS service_tag,
       sum(BilledCost) AS billed_cost, sum(EffectiveCost) AS effective_cost,
       count(*) AS line_items
FROM read_parquet('{path}') GROUP BY ALL
"""


def _keyed(rows: list[dict]) -> dict[tuple, tuple]:
    keys = rollup_mod.KEYS
    return {
        tuple(r[k] for k in keys): (
            round(r["billed_cost"], 6),
            round(r["effective_cost"], 6),
            r["line_items"],
        )
        for r in rows
    }


def test_coded_rollup_equals_duckdb_sql_over_the_file(tmp_path, monkeypatch):
    path = tmp_path / "f.parquet"
    write_focus_file(path, version="1.2", rows=5000, seed=5, periods=2)
    monkeypatch.setattr(rollup_mod, "COMPACT_ROWS", 1200)
    con = duckdb.connect()
    agg = rollup_mod.Rollup(["service", "app"], con)
    stream = open_focus(path, batch_rows=500)
    for batch in stream.iter_encoded():
        agg.add(batch)
    got = agg.result()
    assert got.schema.field("provider").type == pa.string()
    assert got.column("line_items").type == pa.int64()
    want = con.sql(ORACLE.format(path=path)).to_arrow_table()
    assert got.num_rows == want.num_rows
    assert _keyed(got.to_pylist()) == _keyed(want.to_pylist())
    assert sum(got.column("line_items").to_pylist()) == pq.read_metadata(path).num_rows


def test_plain_batches_give_the_same_rollup_as_encoded_ones(tmp_path):
    path = tmp_path / "f.parquet"
    write_focus_file(path, version="1.2", rows=3000, seed=6)
    results = []
    for encoded in (True, False):
        agg = rollup_mod.Rollup(["service", "app", "k8s-app"], duckdb.connect())
        stream = open_focus(path, batch_rows=700)
        for batch in stream.iter_encoded() if encoded else stream:
            agg.add(batch)
        results.append(_keyed(agg.result().to_pylist()))
    assert results[0] == results[1]
