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

import pyarrow as pa
import pyarrow.compute as pc
from django.core.cache import caches
from django.db.models import DecimalField, Max, Min, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from costmodels.errors import SeriesInputError
from planner.billing import reports
from planner.billing.models import BillingPeriodLoad, CostRollup
from planner.billing.rollup import attribution_tags
from planner.core.data_version import data_version
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
    """Raw rollups of the range and filters, for panels that do not split cost by service
    (spot share, commitments); cost by or of a service comes from :func:`costs`."""
    qs = costs(rng, filters).rows
    filters = filters or {}
    if filters.get("service"):
        if filters["service"] == "unallocated":
            qs = qs.filter(service__isnull=True)
        else:
            qs = qs.filter(service__slug=filters["service"])
    return qs


def costs(rng: DateRange, filters: dict | None = None) -> reports.CostView:
    """The range's cost view under the dashboard filters (shared-node attribution applied)."""
    filters = filters or {}
    return reports.view(
        rng.start,
        rng.end,
        provider=filters.get("provider") or "",
        account=filters.get("account") or None,
        tag=filters.get("tag") or "",
        service=filters.get("service") or "",
    )


def total(view: reports.CostView, field: str = "effective_cost"):
    return view.total(field)


def by_dimension(view: reports.CostView, dimension: str, field: str = "effective_cost"):
    """[(label, cost)] sorted by cost, largest first."""
    return [
        (r[dimension] if r[dimension] not in (None, "") else "(none)", r[field])
        for r in view.by(dimension, fields=(field,))
    ]


def raw_by_dimension(qs, dimension: str, field: str = "effective_cost"):
    """[(label, cost)] of raw rollups (by their own tag, before shared-node attribution)."""
    rows = qs.values(dimension).annotate(v=Sum(field)).order_by("-v")
    return [(r[dimension] if r[dimension] not in (None, "") else "(none)", r["v"]) for r in rows]


def daily_by(view: reports.CostView, dimension: str, field: str = "effective_cost"):
    """{label: {date: cost}} for a stacked chart."""
    out: dict[str, dict[dt.date, float]] = {}
    for label, days in view.daily(dimension, field).items():
        series = out.setdefault(str(label if label not in (None, "") else "unallocated"), {})
        for day, v in days.items():
            series[day] = series.get(day, 0.0) + float(v)
    return out


def movers(view, prev, dimension: str = "service__name", n: int = 6) -> list[dict]:
    """The ``n`` largest absolute changes of cost by ``dimension`` vs the previous period."""
    now = {r[dimension]: r["effective_cost"] for r in view.by(dimension)}
    before = {r[dimension]: r["effective_cost"] for r in prev.by(dimension)}
    rows = []
    for key in set(now) | set(before):
        a, b = float(now.get(key) or 0), float(before.get(key) or 0)
        rows.append(
            {
                "label": key or "Unallocated",
                "now": a,
                "before": b,
                "delta": a - b,
                "pct": (a - b) / b * 100 if b else None,
            }
        )
    return sorted(rows, key=lambda r: -abs(r["delta"]))[:n]


def unit_cost_by_modality(
    view: reports.CostView, rng: DateRange, filters: dict | None = None
) -> dict[str, dict[dt.date, float]]:
    """{"<modality> (USD per <unit>)": {date: cost / units}} from daily DB aggregates."""
    cost: dict[tuple, float] = {}
    for r in view.by("date", "service__modality", "service__unit_of_work"):
        if r["service__modality"] is not None:
            key = (r["date"], r["service__modality"], r["service__unit_of_work"])
            cost[key] = cost.get(key, 0.0) + float(r["effective_cost"])
    lo = dt.datetime.combine(rng.start, dt.time.min, tzinfo=dt.UTC)
    usage = UsageSample.objects.filter(ts__gte=lo, ts__lt=lo + dt.timedelta(days=rng.days))
    filters = filters or {}
    if filters.get("service"):
        usage = usage.filter(deployment__service__slug=filters["service"])
    if filters.get("account"):
        usage = usage.filter(deployment__account_id=filters["account"])
    out: dict[str, dict[dt.date, float]] = {}
    for r in (
        usage.annotate(day=TruncDate("ts"))
        .values("day", "deployment__service__modality", "deployment__service__unit_of_work")
        .annotate(units=Sum("units_of_work"))
        .order_by("day")
    ):
        key = (r["day"], r["deployment__service__modality"], r["deployment__service__unit_of_work"])
        if key in cost and r["units"]:
            out.setdefault(f"{key[1]} (USD per {key[2]})", {})[key[0]] = cost[key] / r["units"]
    return out


def spot_share(view: reports.CostView) -> float | None:
    """Share of usage cost bought as spot (FOCUS PricingCategory 'Dynamic')."""
    usage = reports.CostView(view.rows.filter(charge_category="Usage"), view.service)
    by_category = {r["pricing_category"]: r["effective_cost"] for r in usage.by("pricing_category")}
    total_usage = sum(by_category.values())
    return float(by_category.get("Dynamic", 0)) / float(total_usage) if total_usage else None


def commitments(qs, rng: DateRange, filters: dict | None = None) -> dict | None:
    """Committed cost split into used and unused, with coverage and utilisation.

    Reads FOCUS CommitmentDiscountStatus from the current line-item versions of the range's
    periods. Coverage = used committed cost / (used committed + on-demand + spot usage cost).
    """
    od_spot = qs.filter(
        charge_category="Usage", pricing_category__in=["Standard", "Dynamic"]
    ).aggregate(v=Coalesce(Sum("effective_cost"), ZERO))["v"]
    split = _commitment_split_from_line_items(rng, filters or {})
    if split is None:
        return None
    used, unused = split
    if used + unused <= 0:
        return None
    cover = used + float(od_spot)
    return {
        "used": used,
        "unused": unused,
        "utilisation": used / (used + unused),
        "coverage": used / cover if cover else None,
    }


def _commitment_split_from_line_items(rng: DateRange, filters: dict) -> tuple[float, float] | None:
    """(used, unused) committed effective cost from FOCUS CommitmentDiscountStatus, read by
    DuckDB from the current Parquet version of each billing period overlapping the range,
    attributed by the loader's tag rule (billing/rollup.py)."""
    import duckdb
    from django.conf import settings

    from planner.billing.loader import store

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
    with duckdb.connect() as con:  # local Parquet or the object store (store.register_duckdb)
        if not store().register_duckdb(con, "line_items", versions):
            return None
        columns = {r[0] for r in con.execute("DESCRIBE SELECT * FROM line_items").fetchall()}
        allocated = "AllocatedTags" if "AllocatedTags" in columns else "CAST(NULL AS VARCHAR)"
        sql = (
            f"SELECT Tags, {allocated} AS AllocatedTags, "
            "coalesce(sum(EffectiveCost) FILTER (WHERE coalesce(CommitmentDiscountStatus, '') <> 'Unused'), 0) AS used, "
            "coalesce(sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Unused'), 0) AS unused "
            f"FROM line_items WHERE {' AND '.join(where)} GROUP BY ALL"
        )
        by_tags = con.execute(sql, args).to_arrow_table()
    keep = _tag_filter(filters, attribution_tags(by_tags, list(settings.ATTRIBUTION_TAG_KEYS)))
    if keep is not None:
        by_tags = by_tags.filter(keep)
    return float(pc.sum(by_tags["used"]).as_py() or 0), float(
        pc.sum(by_tags["unused"]).as_py() or 0
    )


def _tag_filter(filters: dict, tags: pa.Array) -> pa.Array | None:
    """Mask of rows whose attribution tag (the loader's rule, billing/rollup.py) matches the
    tag or service filter; a service owns its slug and its tag value, as in the loader."""
    from planner.core.models import Service

    tags = tags.dictionary_decode() if pa.types.is_dictionary(tags.type) else tags
    if filters.get("tag"):
        return pc.equal(tags, filters["tag"])
    owned = {t for pair in Service.objects.values_list("slug", "tag_value") for t in pair if t}
    if filters.get("service") == "unallocated":
        return pc.invert(pc.is_in(tags, pa.array(sorted(owned), pa.string())))
    if filters.get("service"):
        svc = Service.objects.filter(slug=filters["service"]).values_list("slug", "tag_value")
        mine = {t for pair in svc for t in pair if t}
        return pc.is_in(tags, pa.array(sorted(mine), pa.string()))
    return None


def forecast_vs_actual(rng: DateRange, filters: dict | None, actual) -> dict | None:
    """Forecast of the range's spend from up to 90 days before it (80 % interval)."""
    import pandas as pd

    from costmodels.forecast import forecast_with_backtest

    hist = DateRange(
        max(rng.start - dt.timedelta(days=90), dt.date.min), rng.start - dt.timedelta(days=1)
    )
    daily = costs(hist, filters).daily().get(None, {})
    if len(daily) < 14:
        return None
    idx = pd.date_range(min(daily), hist.end, freq="D")
    series = pd.Series([float(daily.get(d.date(), 0.0)) for d in idx], index=idx)
    try:
        fc, backtest = forecast_with_backtest(series, rng.days)
    except (SeriesInputError, ValueError, ArithmeticError):
        return None
    f = float(fc["forecast"].sum())
    return {
        "forecast": f,
        "lower": float(fc["lower_80"].sum()),
        "upper": float(fc["upper_80"].sum()),
        "delta_pct": (float(actual) - f) / f * 100 if f else None,
        "backtest": backtest.display(),
    }


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
    return {**caches["pages"].get_or_set(key, compute, timeout), "page_key": key}


def cached_value(prefix: str, params, compute, timeout: int = 300):
    """``compute()`` cached under :func:`cache_key`, as it is (any picklable value): for
    readers that need no ``page_key`` (API reads, the first-run hint)."""
    return caches["pages"].get_or_set(cache_key(prefix, params), compute, timeout)
