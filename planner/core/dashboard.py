"""Dashboard queries: everything aggregated in the database, nothing looped over line items.

Costs are USD effective cost (amortised commitments) unless a name says billed/list. Filters:
provider, account (pk), service (slug or "unallocated") and tag (the raw attribution tag value).

Panels: top movers (change vs the previous period of equal length), unit cost per modality
(daily cost / daily units of work), commitment coverage (committed share of compute usage
cost) and utilisation (used / (used + unused) committed cost), spot share (spot share of usage
cost), and spend vs a forecast made from the days before the range.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import DecimalField, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from planner.billing.models import BillingPeriodLoad, CostRollup
from planner.usage.models import UsageSample

ZERO = Value(0, output_field=DecimalField(max_digits=18, decimal_places=6))


@dataclass(frozen=True)
class DateRange:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DateRange:
        return DateRange(
            self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1)
        )


def parse_range(params, default_days: int = 30) -> DateRange:
    """Read ?start=YYYY-MM-DD&end=YYYY-MM-DD; default: the last `default_days` days with data."""
    bounds = CostRollup.objects.aggregate(lo=Min("date"), hi=Max("date"))
    hi = bounds["hi"] or timezone.now().date()
    lo_data = bounds["lo"] or hi
    try:
        end = dt.date.fromisoformat(params.get("end")) if params.get("end") else hi
    except ValueError:
        end = hi
    try:
        start = dt.date.fromisoformat(params.get("start")) if params.get("start") else None
    except ValueError:
        start = None
    if start is None:
        start = max(lo_data, end - dt.timedelta(days=default_days - 1))
    if start > end:
        start, end = end, start
    return DateRange(start, end)


def filtered(rng: DateRange, filters: dict | None = None):
    qs = CostRollup.objects.filter(date__gte=rng.start, date__lte=rng.end)
    filters = filters or {}
    if filters.get("provider"):
        qs = qs.filter(provider=filters["provider"])
    if filters.get("account"):
        qs = qs.filter(account_id=filters["account"])
    if filters.get("tag"):
        qs = qs.filter(service_tag=filters["tag"])
    if filters.get("service"):
        if filters["service"] == "unallocated":
            qs = qs.filter(service__isnull=True)
        else:
            qs = qs.filter(service__slug=filters["service"])
    return qs


def total(qs, field: str = "effective_cost"):
    return qs.aggregate(v=Coalesce(Sum(field), ZERO))["v"]


def by_dimension(qs, dimension: str, field: str = "effective_cost"):
    """[(label, cost)] sorted by cost, largest first."""
    rows = qs.values(dimension).annotate(v=Sum(field)).order_by("-v")
    return [(r[dimension] if r[dimension] not in (None, "") else "(none)", r["v"]) for r in rows]


def daily_by(qs, dimension: str, field: str = "effective_cost"):
    """{label: {date: cost}} for a stacked chart."""
    out: dict[str, dict[dt.date, float]] = {}
    for r in qs.values("date", dimension).annotate(v=Sum(field)).order_by("date"):
        label = r[dimension] if r[dimension] not in (None, "") else "unallocated"
        out.setdefault(str(label), {})[r["date"]] = float(r["v"])
    return out


def movers(qs, prev, dimension: str = "service__name", n: int = 6) -> list[dict]:
    """The ``n`` largest absolute changes of cost by ``dimension`` vs the previous period."""
    now = dict(qs.values_list(dimension).annotate(v=Sum("effective_cost")))
    before = dict(prev.values_list(dimension).annotate(v=Sum("effective_cost")))
    rows = []
    for key in set(now) | set(before):
        a, b = float(now.get(key) or 0), float(before.get(key) or 0)
        rows.append({"label": key or "Unallocated", "now": a, "before": b, "delta": a - b,
                     "pct": (a - b) / b * 100 if b else None})  # fmt: skip
    return sorted(rows, key=lambda r: -abs(r["delta"]))[:n]


def unit_cost_by_modality(
    qs, rng: DateRange, filters: dict | None = None
) -> dict[str, dict[dt.date, float]]:
    """{"<modality> (USD per <unit>)": {date: cost / units}} from daily DB aggregates."""
    cost = {}
    for r in (qs.filter(service__isnull=False).values("date", "service__modality", "service__unit_of_work")
              .annotate(v=Sum("effective_cost"))):  # fmt: skip
        cost[(r["date"], r["service__modality"], r["service__unit_of_work"])] = float(r["v"])
    lo = dt.datetime.combine(rng.start, dt.time.min, tzinfo=dt.UTC)
    usage = UsageSample.objects.filter(ts__gte=lo, ts__lt=lo + dt.timedelta(days=rng.days))
    filters = filters or {}
    if filters.get("service"):
        usage = usage.filter(deployment__service__slug=filters["service"])
    if filters.get("account"):
        usage = usage.filter(deployment__account_id=filters["account"])
    out: dict[str, dict[dt.date, float]] = {}
    for r in (usage.annotate(day=TruncDate("ts")).values("day", "deployment__service__modality", "deployment__service__unit_of_work")
              .annotate(units=Sum("units_of_work")).order_by("day")):  # fmt: skip
        key = (r["day"], r["deployment__service__modality"], r["deployment__service__unit_of_work"])
        if key in cost and r["units"]:
            out.setdefault(f"{key[1]} (USD per {key[2]})", {})[key[0]] = cost[key] / r["units"]
    return out


def spot_share(qs) -> float | None:
    """Share of usage cost bought as spot (FOCUS PricingCategory 'Dynamic')."""
    agg = qs.filter(charge_category="Usage").aggregate(
        spot=Sum("effective_cost", filter=Q(pricing_category="Dynamic")),
        usage=Sum("effective_cost"),
    )
    return float(agg["spot"] or 0) / float(agg["usage"]) if agg["usage"] else None


def commitments(qs, rng: DateRange, filters: dict | None = None) -> dict | None:
    """Committed cost split into used and unused, with coverage and utilisation.

    Uses the rollups' ``commitment_status`` column when the loader provides it; otherwise reads
    FOCUS CommitmentDiscountStatus from the current line-item versions of the range's periods.
    Coverage = used committed cost / (used committed + on-demand + spot usage cost).
    """
    committed = qs.filter(pricing_category="Committed")
    od_spot = total(
        qs.filter(charge_category="Usage", pricing_category__in=["Standard", "Dynamic"])
    )
    if any(f.name == "commitment_status" for f in CostRollup._meta.get_fields()):
        agg = committed.aggregate(used=Sum("effective_cost", filter=~Q(commitment_status="Unused")),
                                  unused=Sum("effective_cost", filter=Q(commitment_status="Unused")))  # fmt: skip
        used, unused = float(agg["used"] or 0), float(agg["unused"] or 0)
    else:
        split = _commitment_split_from_line_items(rng, filters or {})
        if split is None:
            return None
        used, unused = split
    if used + unused <= 0:
        return None
    cover = used + float(od_spot)
    return {"used": used, "unused": unused, "utilisation": used / (used + unused),
            "coverage": used / cover if cover else None}  # fmt: skip


def _commitment_split_from_line_items(rng: DateRange, filters: dict) -> tuple[float, float] | None:
    """(used, unused) committed effective cost from FOCUS CommitmentDiscountStatus, read by
    DuckDB from the current Parquet version of each billing period overlapping the range."""
    import re

    import duckdb
    from django.conf import settings

    from planner.billing.loader import store
    from planner.core.models import Service

    loads = BillingPeriodLoad.objects.filter(
        billing_period_start__lte=rng.end,
        billing_period_start__gt=rng.start - dt.timedelta(days=32),
    )
    if filters.get("account"):
        loads = loads.filter(account_id=filters["account"])
    versions = [(ld.account_id, ld.billing_period_start, ld.version) for ld in loads]
    where, args = (
        ["PricingCategory = 'Committed'", "CAST(ChargePeriodStart AS DATE) BETWEEN ? AND ?"],
        [rng.start, rng.end],
    )
    if filters.get("provider"):
        where.append("ServiceProviderName = ?")
        args.append(filters["provider"])
    tag = filters.get("tag") or (Service.objects.filter(slug=filters["service"]).values_list("tag_value", flat=True).first()
                                 if filters.get("service") and filters["service"] != "unallocated" else None)  # fmt: skip
    if tag:
        keys = ["NULLIF(regexp_extract(Tags, ?, 1), '')" for _ in settings.ATTRIBUTION_TAG_KEYS]
        where.append(f"COALESCE({', '.join(keys)}, '') = ?")
        args += [
            '"' + re.escape(k) + r'"\s*:\s*"([^"]*)"' for k in settings.ATTRIBUTION_TAG_KEYS
        ] + [tag]
    sql = (
        "SELECT coalesce(sum(EffectiveCost) FILTER (WHERE coalesce(CommitmentDiscountStatus, '') <> 'Unused'), 0), "
        "coalesce(sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Unused'), 0) "
        f"FROM line_items WHERE {' AND '.join(where)}"
    )
    with duckdb.connect() as con:  # local Parquet or the object store (store.register_duckdb)
        if not store().register_duckdb(con, "line_items", versions):
            return None
        used, unused = con.execute(sql, args).fetchone()
    return float(used), float(unused)


def forecast_vs_actual(rng: DateRange, filters: dict | None, actual) -> dict | None:
    """Forecast of the range's spend from up to 90 days before it (80 % interval)."""
    try:
        import pandas as pd

        from costmodels.forecast.model import forecast_series
    except ImportError:
        return None
    hist = DateRange(
        max(rng.start - dt.timedelta(days=90), dt.date.min), rng.start - dt.timedelta(days=1)
    )
    daily = dict(
        filtered(hist, filters)
        .values_list("date")
        .annotate(v=Sum("effective_cost"))
        .order_by("date")
    )
    if len(daily) < 14:
        return None
    idx = pd.date_range(min(daily), hist.end, freq="D")
    series = pd.Series([float(daily.get(d.date(), 0.0)) for d in idx], index=idx)
    try:
        fc = forecast_series(series, rng.days)
    except (ValueError, ArithmeticError):
        return None
    f = float(fc["forecast"].sum())
    return {"forecast": f, "lower": float(fc["lower_80"].sum()), "upper": float(fc["upper_80"].sum()),
            "delta_pct": (float(actual) - f) / f * 100 if f else None}  # fmt: skip


def data_version() -> str:
    """Changes whenever billing or usage data changes: the newest period load, the number of
    loads and the highest rollup and usage-sample ids (every load inserts fresh rows). One round
    trip of index-only aggregates, about a millisecond on a year of rollups."""
    from django.db import connection

    tables = {
        m: connection.ops.quote_name(m._meta.db_table)
        for m in (BillingPeriodLoad, CostRollup, UsageSample)
    }
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT (SELECT MAX(loaded_at) FROM {tables[BillingPeriodLoad]}),"
            f" (SELECT COUNT(*) FROM {tables[BillingPeriodLoad]}),"
            f" (SELECT MAX(id) FROM {tables[CostRollup]}), (SELECT MAX(id) FROM {tables[UsageSample]})"
        )
        return "|".join(str(v) for v in cur.fetchone())


def cache_key(prefix: str, params) -> str:
    """Key for a page's figures: the page, its query parameters and :func:`data_version`."""
    items = (
        sorted((k, v) for k, vs in params.lists() for v in vs)
        if hasattr(params, "lists")
        else sorted(params.items())
    )
    raw = f"{prefix}|{data_version()}|{urlencode(items)}"
    return f"headroom:{prefix}:{hashlib.sha256(raw.encode()).hexdigest()}"


def cached(prefix: str, params, compute, timeout: int = 300):
    """``compute()`` cached under :func:`cache_key`, so a new load shows at once while repeated
    views of unchanged data cost one cache read. The result carries ``page_key`` (the key) for
    templates that also cache their rendered fragment (``{% cache 300 name page_key %}``)."""
    key = cache_key(prefix, params)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout)
    return {**value, "page_key": key}
