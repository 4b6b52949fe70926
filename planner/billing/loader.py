"""Load a stream of FOCUS-shaped record batches: line items to Parquet, daily rollups to the DB.

Every connector (FOCUS files, AWS exports, Azure, Google, the demo fleet) ends here. Each billing
period present in the stream is replaced atomically: line items go to a new Parquet version in
the staging area, rollups are aggregated batch by batch (bounded memory: the partial aggregates
are small), and only when the whole stream has been read without error are the rollups and the
period pointer replaced in one database transaction. Any exception on the way — a bad row, a
network error, a crash — leaves the previously loaded data exactly as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import transaction

from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun
from planner.billing.store import LineItemStore
from planner.core.models import CloudAccount, Service

log = logging.getLogger(__name__)

DIMENSIONS = {
    # rollup field: FOCUS column
    "provider": "ProviderName",
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
KEYS = ["date", "period", *DIMENSIONS, "service_tag"]


class LoadError(Exception):
    """A stream that cannot be loaded, with a message a user can act on."""


@dataclass
class LoadResult:
    version: str
    rows_read: int = 0
    rows_stored: int = 0
    periods: list[str] = field(default_factory=list)
    totals: dict[str, dict[str, float]] = field(default_factory=dict)
    rollup_rows: int = 0


def store() -> LineItemStore:
    return LineItemStore(settings.LINE_ITEM_STORE)


def _column(batch: pa.RecordBatch | pa.Table, name: str, typ: pa.DataType) -> pa.Array:
    idx = batch.schema.get_field_index(name)
    if idx < 0:
        return pa.nulls(batch.num_rows, typ)
    col = batch.column(idx)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return col if col.type == typ else pc.cast(col, typ)


def _to_date(col: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(col.type) and col.type.tz not in (None, "UTC", "+00:00"):
        col = pc.cast(col, pa.timestamp(col.type.unit, tz="UTC"))
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = pc.cast(pc.utf8_slice_codeunits(col, 0, 10), pa.date32())
    return pc.cast(col, pa.date32())


def service_tag_column(tags: pa.Array, keys: list[str]) -> pa.Array:
    """Vectorised: the value of the first attribution key present in each row's Tags JSON."""
    tags = pc.cast(tags, pa.string()) if tags.type != pa.string() else tags
    found = pa.nulls(len(tags), pa.string())
    for key in keys:
        pattern = r'"' + re.escape(key) + r'"\s*:\s*"(?P<v>[^"]*)"'
        extracted = pc.struct_field(pc.extract_regex(tags, pattern), "v")
        found = pc.coalesce(found, extracted)
    return found


def aggregate_batch(batch: pa.RecordBatch | pa.Table, tag_keys: list[str]) -> pa.Table:
    """Sum the metrics of one batch by day and every rollup dimension."""
    n = batch.num_rows
    cols: dict[str, pa.Array] = {
        "date": _to_date(_column(batch, "ChargePeriodStart", pa.timestamp("us", tz="UTC"))),
        "period": _to_date(_column(batch, "BillingPeriodStart", pa.timestamp("us", tz="UTC"))),
    }
    for name, focus in DIMENSIONS.items():
        cols[name] = pc.fill_null(_column(batch, focus, pa.string()), "")
    cols["service_tag"] = pc.fill_null(
        service_tag_column(_column(batch, "Tags", pa.string()), tag_keys), ""
    )
    for name, focus in METRICS.items():
        cols[name] = pc.fill_null(_column(batch, focus, pa.float64()), 0.0)
    cols["line_items"] = pa.array([1] * n, pa.int64()) if n else pa.array([], pa.int64())
    table = pa.table(cols)
    aggs = [(m, "sum") for m in (*METRICS, "line_items")]
    out = table.group_by(KEYS, use_threads=False).aggregate(aggs)
    return out.rename_columns([c.removesuffix("_sum") for c in out.column_names])


def _period_starts(batch: pa.RecordBatch) -> pa.Array:
    col = _column(batch, "BillingPeriodStart", pa.timestamp("us", tz="UTC"))
    if col.null_count:
        first = pc.index(pc.is_null(col), True).as_py()
        raise LoadError(
            f"row {first + 1} of the batch has no BillingPeriodStart; every FOCUS row needs one"
        )
    return _to_date(col)


def load_batches(
    batches: Iterable[pa.RecordBatch],
    account: CloudAccount,
    *,
    run: IngestRun | None = None,
    progress: Callable[[int], None] | None = None,
    line_item_store: LineItemStore | None = None,
) -> LoadResult:
    """Load every billing period in `batches` for `account`, replacing each period atomically."""
    line_store = line_item_store or store()
    result = LoadResult(version=f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}")
    tag_keys = list(settings.ATTRIBUTION_TAG_KEYS)
    writers: dict[dt.date, object] = {}
    partials: list[pa.Table] = []
    periods: set[dt.date] = set()
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            starts = _period_starts(batch)
            table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
            for period in pc.unique(starts).to_pylist():
                periods.add(period)
                writer = writers.get(period)
                if writer is None:
                    writer = writers[period] = line_store.staging_writer(
                        result.version, account.pk, period
                    )
                writer.write(table.filter(pc.equal(starts, pa.scalar(period, pa.date32()))))
            partials.append(aggregate_batch(table, tag_keys))
            result.rows_read += batch.num_rows
            if len(partials) >= 64:  # keep the partial aggregates small
                partials = [_combine(partials)]
            if progress:
                progress(result.rows_read)
        for writer in writers.values():
            writer.close()
        if not periods:
            raise LoadError("the source holds no billing records; nothing was changed")
        rollup = _combine(partials)
        line_store.publish(result.version, account.pk, sorted(periods))
        _replace_in_database(account, run, sorted(periods), rollup, result, line_store)
    except BaseException:
        for writer in writers.values():
            with contextlib.suppress(Exception):  # already failing; cleanup must go on
                writer.close()
        line_store.discard(result.version, account.pk, periods)
        raise
    return result


def _combine(partials: list[pa.Table]) -> pa.Table:
    table = pa.concat_tables(partials)
    aggs = [(m, "sum") for m in (*METRICS, "line_items")]
    out = table.group_by(KEYS, use_threads=False).aggregate(aggs)
    return out.rename_columns([c.removesuffix("_sum") for c in out.column_names])


def _dec(x: float) -> Decimal:
    return Decimal(repr(round(float(x), 6)))


def _replace_in_database(
    account, run, periods, rollup: pa.Table, result: LoadResult, line_store
) -> None:
    services = {}
    for pk, slug, tag in Service.objects.values_list("pk", "slug", "tag_value"):
        services[slug] = pk
        if tag:
            services[tag] = pk
    data = rollup.to_pydict()
    objs = []
    totals: dict[str, dict[str, float]] = {}
    for i in range(rollup.num_rows):
        period = data["period"][i]
        t = totals.setdefault(
            period.isoformat(),
            {"rows": 0, "billed_cost": 0.0, "effective_cost": 0.0, "list_cost": 0.0},
        )
        t["rows"] += data["line_items"][i]
        for m in ("billed_cost", "effective_cost", "list_cost"):
            t[m] += data[m][i]
        cc = data["charge_category"][i] or "(none)"
        t.setdefault("billed_cost_by_charge_category", {}).setdefault(cc, 0.0)
        t["billed_cost_by_charge_category"][cc] += data["billed_cost"][i]
        objs.append(
            CostRollup(
                date=data["date"][i],
                account_id=account.pk,
                billing_period_start=period,
                provider=data["provider"][i][:64],
                service_name=data["service_name"][i][:200],
                region=data["region"][i][:64],
                resource_id=data["resource_id"][i][:500],
                sku=data["sku"][i][:200],
                pricing_category=data["pricing_category"][i][:32],
                charge_category=data["charge_category"][i][:32],
                service_tag=data["service_tag"][i][:200],
                service_id=services.get(data["service_tag"][i]),
                currency=(data["currency"][i] or "USD")[:8],
                billed_cost=_dec(data["billed_cost"][i]),
                effective_cost=_dec(data["effective_cost"][i]),
                list_cost=_dec(data["list_cost"][i]),
                consumed_quantity=float(data["consumed_quantity"][i]),
                line_items=int(data["line_items"][i]),
            )
        )
    currencies = {}
    for i in range(rollup.num_rows):
        currencies.setdefault(data["period"][i], set()).add(data["currency"][i] or "USD")
    with transaction.atomic():
        # Lock the period pointers so that two loads of the same period serialise here.
        list(
            BillingPeriodLoad.objects.select_for_update().filter(
                account=account, billing_period_start__in=periods
            )
        )
        CostRollup.objects.filter(account=account, billing_period_start__in=periods).delete()
        CostRollup.objects.bulk_create(objs, batch_size=2000)
        for period in periods:
            t = totals.get(period.isoformat(), {})
            BillingPeriodLoad.objects.update_or_create(
                account=account,
                billing_period_start=period,
                defaults={
                    "version": result.version,
                    "run": run,
                    "rows": int(t.get("rows", 0)),
                    "billed_cost": _dec(t.get("billed_cost", 0.0)),
                    "effective_cost": _dec(t.get("effective_cost", 0.0)),
                    "list_cost": _dec(t.get("list_cost", 0.0)),
                    "currency": ",".join(sorted(currencies.get(period, {"USD"}))),
                },
            )
        transaction.on_commit(
            lambda: [line_store.drop_other_versions(account.pk, p, result.version) for p in periods]
        )
    result.periods = [p.isoformat() for p in periods]
    result.totals = {
        k: {m: (round(v, 6) if isinstance(v, float) else v) for m, v in t.items()}
        for k, t in totals.items()
    }
    result.rows_stored = int(sum(t["rows"] for t in totals.values()))
    result.rollup_rows = len(objs)
