"""Queries over the current line-item versions (FOCUS 1.4 Parquet) of a date range, in DuckDB.

For questions the daily rollups cannot answer because they need a column the rollups do not
keep (every tag key for chargeback rules, ``CommitmentDiscountId`` for the commitments
inventory). Only the version each ``BillingPeriodLoad`` points at is read, so a half-loaded
period is never seen. Amounts come back in their billing currency; :func:`to_reporting`
converts them at the ECB reference rate of each row's day (the same rule as the rollups).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from planner.billing.models import BillingPeriodLoad


def current_files(
    start: dt.date, end: dt.date, account_ids: Iterable[int] | None = None
) -> list[str]:
    """Parquet files of the current version of every billing period that can hold charges
    between ``start`` and ``end`` (inclusive)."""
    from planner.billing.loader import store

    loads = BillingPeriodLoad.objects.filter(
        billing_period_start__lte=end,
        billing_period_start__gt=start - dt.timedelta(days=32),
    )
    if account_ids is not None:
        loads = loads.filter(account_id__in=list(account_ids))
    return [
        str(f)
        for ld in loads.order_by("account_id", "billing_period_start")
        for f in store().files(ld.account_id, ld.billing_period_start, ld.version)
    ]


def query(
    sql: str,
    start: dt.date,
    end: dt.date,
    params: Sequence = (),
    account_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Run ``sql`` against a view ``items``: the line items charged between ``start`` and
    ``end`` (by the UTC day of ``ChargePeriodStart``), with ``ChargeDay`` (date) and ``AccountPk`` (the ``CloudAccount`` they were loaded for) added.
    Returns an empty frame when nothing is loaded for the range."""
    files = current_files(start, end, account_ids)
    if not files:
        return pd.DataFrame()
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.read_parquet(files, union_by_name=True, filename=True).create_view("raw_items")
        con.execute(
            "CREATE TEMP VIEW items AS SELECT *, CAST(ChargePeriodStart AS DATE) AS ChargeDay, "
            "CAST(regexp_extract(filename, 'account=([0-9]+)', 1) AS BIGINT) AS AccountPk "
            "FROM raw_items WHERE CAST(ChargePeriodStart AS DATE) "
            f"BETWEEN DATE '{start.isoformat()}' AND DATE '{end.isoformat()}'"
        )
        return con.execute(sql, list(params)).df()


def to_reporting(
    frame: pd.DataFrame, amounts: Sequence[str], day: str = "day", currency: str = "currency"
) -> pd.DataFrame:
    """``frame`` with each column of ``amounts`` converted into the reporting currency at the
    reference rate of its row's ``day`` (from its ``currency``). Raises
    :class:`~ingest.fx.FxError` for a currency without a reference rate."""
    from planner.billing.currency import convert_columns

    if frame.empty:
        return frame
    out = frame.copy()
    dates = pa.array(pd.to_datetime(out[day]).dt.date, pa.date32())
    codes = pa.array(out[currency].fillna("").astype(str), pa.string())
    values = {a: pa.array(out[a].fillna(0.0).astype(float), pa.float64()) for a in amounts}
    converted, _rate, _rate_day = convert_columns(dates, codes, values)
    for a in amounts:
        out[a] = converted[a].to_numpy(zero_copy_only=False)
    return out
