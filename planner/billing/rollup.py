"""Daily cost rollup of a stream of FOCUS batches, aggregated with integer keys.

Every text dimension of a row is replaced by a code into a load-wide dictionary of the
values seen (``Codes``): a batch's dictionary (a handful to a few thousand distinct values,
from the Parquet file's own dictionary pages or one ``dictionary_encode``) is matched
against the load-wide one, and the rows only take integers. DuckDB then groups by dates
and integers — far cheaper than hashing eleven strings per row — and the codes become text
again only on the final aggregate. Memory: the running aggregate (one row per distinct
key, 13 fixed-width columns) plus at most ``COMPACT_ROWS`` rows of batch partials.

The rule for ``service_tag``: the value of the first of the configured attribution tag keys
(``settings.ATTRIBUTION_TAG_KEYS``) that is present in the row's Tags JSON with a non-empty
value, else '' (unallocated). A row that the provider split-allocated (FOCUS 1.3+
``AllocatedTags``: the tags of the workload the split went to) is attributed by those tags
first, so split cost is not shown as unallocated. Nulls in a text dimension count as ''.

``instance_type`` is the machine size the record bills, from whichever column its source uses
(:mod:`ingest.instance_type`); it is what shared-node attribution and the current purchase mix
match deployments on, never ``sku`` (a CUR product code, an Azure meter, a Google SKU id).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from ingest.instance_type import instance_types
from planner.billing.errors import LoadError

DIMENSIONS = {
    # rollup field: FOCUS column
    "provider": "ServiceProviderName",
    "service_name": "ServiceName",
    "region": "RegionId",
    "resource_id": "ResourceId",
    "sku": "SkuId",
    "pricing_category": "PricingCategory",
    "charge_category": "ChargeCategory",
    "currency": "BillingCurrency",
}
METRICS = {
    "billed_cost": "BilledCost",
    "effective_cost": "EffectiveCost",
    "list_cost": "ListCost",
    "consumed_quantity": "ConsumedQuantity",
}
#: Text keys computed from several columns rather than read from one FOCUS column.
DERIVED = ["instance_type", "service_tag"]
KEYS = ["date", "period", *DIMENSIONS, *DERIVED]
UTC_US = pa.timestamp("us", tz="UTC")
#: Rows of batch partials kept before they are merged into the running aggregate.
COMPACT_ROWS = 1_000_000


def column(batch: pa.RecordBatch | pa.Table, name: str, typ: pa.DataType) -> pa.Array:
    """Column ``name`` cast to ``typ`` (nulls if the batch lacks it)."""
    idx = batch.schema.get_field_index(name)
    if idx < 0:
        return pa.nulls(batch.num_rows, typ)
    col = batch.column(idx)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return col if col.type == typ else pc.cast(col, typ)


def to_date(col: pa.Array) -> pa.Array:
    """Timestamps (any zone: the UTC day), dates or ISO text -> date32."""
    if pa.types.is_timestamp(col.type) and col.type.tz not in (None, "UTC", "+00:00"):
        col = pc.cast(col, pa.timestamp(col.type.unit, tz="UTC"))
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = pc.cast(pc.utf8_slice_codeunits(col, 0, 10), pa.date32())
    return pc.cast(col, pa.date32())


def encoded_text(batch: pa.RecordBatch | pa.Table, name: str) -> pa.DictionaryArray:
    """Text column ``name`` as a dictionary array (as given if already encoded)."""
    idx = batch.schema.get_field_index(name)
    if idx >= 0 and pa.types.is_dictionary(batch.schema.field(idx).type):
        col = batch.column(idx)
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.dictionary_encode(column(batch, name, pa.string()))


def service_tags(values: pa.Array, keys: list[str]) -> pa.Array:
    """Per Tags JSON text: the first attribution key's non-empty value, else ''."""
    values = pc.cast(values, pa.string())
    found = pa.nulls(len(values), pa.string())
    for key in keys:
        pattern = r'"' + re.escape(key) + r'"\s*:\s*"(?P<v>[^"]*)"'
        value = pc.struct_field(pc.extract_regex(values, pattern), "v")
        found = pc.coalesce(found, pc.if_else(pc.equal(value, ""), None, value))
    return pc.fill_null(found, "")


def attribution_tags(batch: pa.RecordBatch | pa.Table, keys: list[str]) -> pa.DictionaryArray:
    """Per row, the attribution tag value (dictionary-encoded): AllocatedTags' first, else
    Tags' (the rule in the module docstring). Only the distinct tag texts are searched."""
    tags = encoded_text(batch, "Tags")
    by_tags = pa.DictionaryArray.from_arrays(tags.indices, service_tags(tags.dictionary, keys))
    enc = encoded_text(batch, "AllocatedTags")
    if enc.null_count == len(enc):
        return by_tags
    split = pc.fill_null(pc.take(service_tags(enc.dictionary, keys), enc.indices), "")
    chosen = pc.if_else(pc.equal(split, ""), by_tags.dictionary_decode(), split)
    return pc.dictionary_encode(chosen)


class Codes:
    """A load-wide dictionary of one dimension's text values; code 0 is '' (and null)."""

    def __init__(self) -> None:
        self.values = pa.array([""], pa.string())

    def codes(self, values: pa.Array, indices: pa.Array) -> pa.Array:
        """int32 codes of the rows ``values[indices]`` (null index or value -> 0)."""
        values = pc.fill_null(pc.cast(values, pa.string()), "")
        pos = pc.index_in(values, value_set=self.values)
        if pos.null_count:
            new = pc.unique(values.filter(pc.is_null(pos)))
            self.values = pa.concat_arrays([self.values, new])
            pos = pc.index_in(values, value_set=self.values)
        return pc.fill_null(pc.take(pc.cast(pos, pa.int32()), indices), 0)


class Rollup:
    """Accumulates the daily rollup of batches; :meth:`result` gives the final table."""

    def __init__(self, tag_keys: list[str], con) -> None:
        self.tag_keys = tag_keys
        self.con = con
        self.codes = {name: Codes() for name in [*DIMENSIONS, *DERIVED]}
        self.parts: list[pa.Table] = []
        self.part_rows = 0  # rows in parts
        self.merged = True  # parts hold one table unique by key (or nothing)

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        cols: dict[str, pa.Array] = {
            "date": to_date(column(batch, "ChargePeriodStart", UTC_US)),
            "period": to_date(column(batch, "BillingPeriodStart", UTC_US)),
        }
        for name, focus in DIMENSIONS.items():
            if batch.schema.get_field_index(focus) < 0:
                cols[name] = pa.array([0] * batch.num_rows, pa.int32())
                continue
            enc = encoded_text(batch, focus)
            cols[name] = self.codes[name].codes(enc.dictionary, enc.indices)
        types = pc.dictionary_encode(instance_types(batch))
        cols["instance_type"] = self.codes["instance_type"].codes(types.dictionary, types.indices)
        tags = attribution_tags(batch, self.tag_keys)
        cols["service_tag"] = self.codes["service_tag"].codes(tags.dictionary, tags.indices)
        for name, focus in METRICS.items():
            cols[name] = pc.fill_null(column(batch, focus, pa.float64()), 0.0)
        cols["line_items"] = pa.repeat(pa.scalar(1, pa.int64()), batch.num_rows)
        self.parts.append(pa.table(cols))
        self.part_rows += batch.num_rows
        self.merged = False
        if self.part_rows >= COMPACT_ROWS:
            self._compact()

    def _compact(self) -> None:
        stacked = pa.concat_tables(self.parts)  # noqa: F841 - read by DuckDB below
        sums = ", ".join(f"sum({m}) AS {m}" for m in METRICS)
        merged = self.con.sql(
            f"SELECT {', '.join(KEYS)}, {sums}, CAST(sum(line_items) AS BIGINT) AS line_items "
            "FROM stacked GROUP BY ALL"
        ).to_arrow_table()
        self.parts = [merged]
        self.part_rows = merged.num_rows
        self.merged = True

    def result(self) -> pa.Table:
        """The rollup: KEYS (text dimensions as strings), the METRICS and line_items."""
        if not self.parts:
            raise LoadError("no billing records were read, so there is nothing to roll up")
        if not self.merged:
            self._compact()
        table = self.parts[0]
        for name, codes in self.codes.items():
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, pc.take(codes.values, table.column(i)))
        return table
