"""Load a stream of FOCUS-shaped record batches: line items to Parquet, daily rollups to the DB.

Every connector (FOCUS files, AWS exports, Azure, Google, the demo fleet) ends here. Each billing
period present in the stream is replaced atomically: line items go to a new Parquet version in
the staging area, rollups are aggregated batch by batch (`planner.billing.rollup`; bounded
memory), and only when the whole stream has been read without error are the rollups and the
period pointer replaced in one database transaction. Any exception on the way — a bad row, a
network error, a crash — leaves the previously loaded data exactly as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import connection, transaction

from ingest.fx import FxError
from planner.billing.currency import convert_columns, reporting_currency
from planner.billing.errors import LoadError
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun
from planner.billing.rollup import DIMENSIONS, KEYS, METRICS, UTC_US, Rollup, column, to_date
from planner.billing.store import LineItemStore
from planner.core.models import CloudAccount, Service

log = logging.getLogger(__name__)

__all__ = ["DIMENSIONS", "KEYS", "METRICS", "LoadError", "LoadResult", "load_batches", "store"]
#: Arrow bytes of batches read but not yet written and aggregated: when the writers fall
#: behind the reader (a busy machine), what is read ahead stays under this whatever the width
#: of the file's batches (a bound on the number of tasks in flight scaled with it).
INFLIGHT_BYTES = 256 << 20


@dataclass
class LoadResult:
    version: str
    rows_read: int = 0
    rows_stored: int = 0
    periods: list[str] = field(default_factory=list)
    totals: dict[str, dict[str, float]] = field(default_factory=dict)
    rollup_rows: int = 0


_STORES: dict[tuple, LineItemStore] = {}


def store() -> LineItemStore:
    """The configured line-item store (one per process and configuration: building an S3
    filesystem may cost a request)."""
    key = (
        settings.LINE_ITEM_STORE,
        settings.LINE_ITEM_STORE_ENDPOINT,
        settings.LINE_ITEM_STORE_REGION,
    )
    if key not in _STORES:
        _STORES[key] = LineItemStore(key[0], endpoint=key[1], region=key[2])
    return _STORES[key]


def _period_starts(batch: pa.RecordBatch) -> pa.Array:
    col = column(batch, "BillingPeriodStart", UTC_US)
    if col.null_count:
        first = pc.index(pc.is_null(col), True).as_py()
        raise LoadError(
            f"row {first + 1} of the batch has no BillingPeriodStart; every FOCUS row needs one"
        )
    return to_date(col)


def _parts_by_period(table: pa.Table, starts: pa.Array):
    """(billing period, its rows) for each period in the batch; a batch usually holds one
    period, and then its table is handed over without a copy."""
    in_batch = pc.unique(starts).to_pylist()
    if len(in_batch) == 1:
        return [(in_batch[0], table)]
    return [(p, table.filter(pc.equal(starts, pa.scalar(p, pa.date32())))) for p in in_batch]


def _drain(pending: list) -> None:
    """Bounded memory: a slow writer (a busy machine) holds back the reader, so what is read
    ahead stays under INFLIGHT_BYTES however far the writers fall behind; finished tasks are
    collected (and their errors raised) as they complete."""
    in_flight = sum(n for _, n in pending)
    while pending and (pending[0][0].done() or in_flight > INFLIGHT_BYTES):
        future, nbytes = pending.pop(0)
        future.result()
        in_flight -= nbytes


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
    # Versions sort by start time (to the microsecond), then by a random suffix.
    started = dt.datetime.now(dt.UTC)
    result = LoadResult(version=f"{started:%Y%m%dT%H%M%S.%f}-{uuid.uuid4().hex[:8]}")
    tag_keys = list(settings.ATTRIBUTION_TAG_KEYS)
    writers: dict[dt.date, object] = {}
    periods: set[dt.date] = set()
    con = _duckdb()
    rollup = Rollup(tag_keys, con)
    # A FocusStream can hand over text columns still dictionary-encoded as the file stores
    # them: written to Parquet without re-encoding, grouped by integer keys.
    encoded = getattr(batches, "iter_encoded", None)
    if callable(encoded):
        batches = encoded()
    # Parquet encoding, pyarrow kernels and DuckDB release the GIL: line items are written
    # on two threads (two part files per period) and the rollup aggregated on a third (one,
    # so batches are added in order) while this one reads and validates the next batch.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lineitem-writer")
    agg = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollup")
    pending: list = []
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
            for period, part in _parts_by_period(table, _period_starts(batch)):
                periods.add(period)
                writer = writers.get(period)
                if writer is None:
                    writer = writers[period] = line_store.staging_writer(
                        result.version, account.pk, period
                    )
                pending.append((pool.submit(writer.write, part), 0))
            # the batch's memory is held until its last task is done: count it on that one
            pending.append((agg.submit(rollup.add, table), table.nbytes))
            _drain(pending)
            result.rows_read += batch.num_rows
            if progress:
                progress(result.rows_read)
        for future, _ in pending:
            future.result()
        pending.clear()
        for writer in writers.values():
            writer.close()
        if not periods:
            raise LoadError("the source holds no billing records; nothing was changed")
        _replace_in_database(
            account, run, sorted(periods), rollup.result(), result, line_store, writers
        )
    except BaseException:
        for future, _ in pending:
            with contextlib.suppress(BaseException):
                future.result()
        for writer in writers.values():
            with contextlib.suppress(Exception):  # already failing; cleanup must go on
                writer.close()
        line_store.discard(result.version, account.pk, periods)
        raise
    finally:
        pool.shutdown(wait=True)
        agg.shutdown(wait=True)
        con.close()
    return result


def _duckdb():
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    return con


def _dec(x: float) -> Decimal:
    return Decimal(repr(round(float(x), 6)))


# The database's rollup columns, in insert order, derived from the model; the text keys of the
# aggregate (rollup.KEYS) with the length limit of their column. "currency" is the reporting
# currency in the database and the billing currency in the aggregate, so it is set apart.
_ROLLUP_COLUMNS = [f.attname for f in CostRollup._meta.concrete_fields if not f.primary_key]
_ROLLUP_TEXT = {
    name: CostRollup._meta.get_field(name).max_length
    for name in KEYS
    if name not in ("date", "period", "currency")
}


def rollup_rows(rollup: pa.Table, account_pk: int, services: dict[str, int]) -> pa.Table:
    """The rollup aggregate as a table in the database's column order (vectorised)."""
    n = rollup.num_rows
    tags = list(services)
    ids = pa.array([services[t] for t in tags], pa.int64())
    pos = pc.index_in(rollup.column("service_tag"), value_set=pa.array(tags, pa.string()))
    cols = {
        "date": rollup.column("date"),
        "account_id": pa.array([account_pk] * n, pa.int64()),
        "billing_period_start": rollup.column("period"),
    }
    for name, limit in _ROLLUP_TEXT.items():
        cols[name] = pc.utf8_slice_codeunits(rollup.column(name), 0, limit)
    cols["service_id"] = pc.take(ids, pos) if tags else pa.nulls(n, pa.int64())
    currency = pc.if_else(pc.equal(rollup.column("currency"), ""), "USD", rollup.column("currency"))
    billed = {
        m: pc.round(rollup.column(m), 6) for m in ("billed_cost", "effective_cost", "list_cost")
    }
    try:
        converted, rate, rate_day = convert_columns(rollup.column("date"), currency, billed)
    except FxError as exc:
        raise LoadError(f"cannot convert to {reporting_currency()}: {exc}") from exc
    cols["currency"] = pa.array([reporting_currency()] * n, pa.string())
    cols.update(converted)
    cols["consumed_quantity"] = rollup.column("consumed_quantity")
    cols["line_items"] = rollup.column("line_items")
    cols["billing_currency"] = pc.utf8_slice_codeunits(currency, 0, 8)
    cols.update({f"billing_{m}": arr for m, arr in billed.items()})
    cols["fx_rate"] = rate
    cols["fx_rate_date"] = rate_day
    return pa.table({name: cols[name] for name in _ROLLUP_COLUMNS})


def _insert_rollups(table: pa.Table) -> None:
    """Bulk insert: COPY on PostgreSQL (streamed CSV, no per-row Python objects), executemany
    elsewhere. Runs inside the caller's transaction. Rows come sorted by date, so the
    date-leading indexes grow at their right edge."""
    db_table = CostRollup._meta.db_table
    names = ", ".join(_ROLLUP_COLUMNS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            import io

            import pyarrow.csv as pcsv

            for batch in table.to_batches(max_chunksize=200_000):
                buf = io.BytesIO()
                pcsv.write_csv(
                    pa.Table.from_batches([batch]),
                    buf,
                    pcsv.WriteOptions(include_header=False, quoting_style="needed"),
                )
                with cur.cursor.copy(
                    f"COPY {db_table} ({names}) FROM STDIN WITH (FORMAT csv)"
                ) as copy:
                    copy.write(buf.getvalue())
        else:
            sql = f"INSERT INTO {db_table} ({names}) VALUES ({', '.join(['%s'] * len(_ROLLUP_COLUMNS))})"
            for batch in table.to_batches(max_chunksize=50_000):
                columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                cur.executemany(sql, list(zip(*columns, strict=True)))


def period_totals(rollup: pa.Table) -> dict[str, dict]:
    """Per billing period: line items, billed/effective/list totals, billed by ChargeCategory,
    and the currencies seen."""
    metrics = [
        ("line_items", "sum"),
        ("billed_cost", "sum"),
        ("effective_cost", "sum"),
        ("list_cost", "sum"),
    ]
    totals: dict[str, dict] = {}
    for row in (
        rollup.group_by(["period"]).aggregate([*metrics, ("currency", "distinct")]).to_pylist()
    ):
        totals[row["period"].isoformat()] = {
            "rows": int(row["line_items_sum"]),
            "billed_cost": row["billed_cost_sum"],
            "effective_cost": row["effective_cost_sum"],
            "list_cost": row["list_cost_sum"],
            "currencies": sorted(c or "USD" for c in row["currency_distinct"]),
            "billed_cost_by_charge_category": {},
        }
    by_cc = rollup.group_by(["period", "charge_category"]).aggregate([("billed_cost", "sum")])
    for row in by_cc.to_pylist():
        totals[row["period"].isoformat()]["billed_cost_by_charge_category"][
            row["charge_category"] or "(none)"
        ] = round(row["billed_cost_sum"], 6)
    return totals


def _drop_superseded(line_store: LineItemStore, account_pk: int, periods) -> None:
    """After a switch commits: remove the versions older than each period's current one, under
    the pointer's row lock (a load that commits meanwhile checks its parts under the same lock,
    so it either sees them gone and fails, or commits first and its version is kept). A failure
    here only leaves orphans, which the sweep removes."""
    try:
        with transaction.atomic():
            current = BillingPeriodLoad.objects.select_for_update().filter(
                account_id=account_pk, billing_period_start__in=periods
            )
            for period, version in current.values_list("billing_period_start", "version"):
                line_store.drop_older_versions(account_pk, period, version)
    except Exception:  # the load itself succeeded; never turn cleanup into a failed run
        log.exception("could not remove superseded line-item versions of account %s", account_pk)


def _replace_in_database(
    account, run, periods, rollup: pa.Table, result: LoadResult, line_store, writers=None
) -> None:
    services: dict[str, int] = {}
    for pk, slug, tag in Service.objects.values_list("pk", "slug", "tag_value"):
        services[slug] = pk
        if tag:
            services[tag] = pk
    rows = rollup_rows(rollup, account.pk, services)
    totals = period_totals(rollup)
    rows = rows.sort_by([("date", "ascending"), ("provider", "ascending")])
    with transaction.atomic():
        # Lock the period pointers so that two loads of the same period serialise here.
        list(
            BillingPeriodLoad.objects.select_for_update().filter(
                account=account, billing_period_start__in=periods
            )
        )
        CostRollup.objects.filter(account=account, billing_period_start__in=periods).delete()
        _insert_rollups(rows)
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
                    "currency": ",".join(t.get("currencies", ["USD"]))[:8],
                },
            )
        # Holding every pointer row's lock now: no concurrent drop can remove parts between
        # this check and the commit.
        line_store.publish(result.version, account.pk, writers or {})
        transaction.on_commit(lambda: _drop_superseded(line_store, account.pk, periods))
    result.periods = [p.isoformat() for p in periods]
    result.totals = {
        k: {m: (round(v, 6) if isinstance(v, float) else v) for m, v in t.items()}
        for k, t in totals.items()
    }
    result.rows_stored = int(sum(t["rows"] for t in totals.values()))
    result.rollup_rows = rows.num_rows
