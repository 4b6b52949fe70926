"""Daily cost series read from CostRollup, aggregated in the database.

A *cost series* is daily effective cost (USD) for one scope. Credits are left out: they are
scheduled events (e.g. a monthly promotional credit), not spend behaviour, and would otherwise
show as a drop on the first of every month. Days without rows count as 0 USD. Cost by service is
the one of :mod:`planner.billing.reports` (shared-node cost attributed), as on every page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from django.db.models import Max, Min

from planner.billing.models import CostRollup
from planner.billing.reports import CREDIT_CATEGORIES, UNALLOCATED, CostView

EXCLUDED_CHARGE_CATEGORIES = CREDIT_CATEGORIES
# Longest history the detector reads (days). The detector is online, so a longer window only
# changes scores at its very start; episodes are matched by overlap when the window moves.
MAX_HISTORY_DAYS = 400


@dataclass(frozen=True)
class CostSeriesSpec:
    """Identity and rollup filter of one series."""

    key: str
    label: str
    dimensions: dict = field(default_factory=dict)

    def view(self) -> CostView:
        """This series' scope as a cost view (spend only: credits excluded)."""
        qs = CostRollup.objects.all()
        if "account" in self.dimensions:
            qs = qs.filter(account__account_id=self.dimensions["account"])
        service = ""
        if "service" in self.dimensions:
            service = self.dimensions["service"] or UNALLOCATED
        return CostView(qs, service).spend()


TOTAL = CostSeriesSpec("cost:total", "Total spend", {})


def service_spec(slug: str | None, name: str | None = None) -> CostSeriesSpec:
    if slug is None:
        return CostSeriesSpec(f"cost:service={UNALLOCATED}", "Unallocated spend", {"service": None})
    return CostSeriesSpec(f"cost:service={slug}", f"{name or slug} spend", {"service": slug})


def spend_rows(qs=None):
    """CostRollup rows that count as spend for series and budgets (credits excluded)."""
    qs = CostRollup.objects.all() if qs is None else qs
    return qs.exclude(charge_category__in=EXCLUDED_CHARGE_CATEGORIES)


def data_bounds(qs=None) -> tuple[dt.date | None, dt.date | None]:
    b = spend_rows(qs).aggregate(lo=Min("date"), hi=Max("date"))
    return b["lo"], b["hi"]


def daily_frame(
    view: CostView, dimension: str | None, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Daily effective spend, one column per value of `dimension` (or one column 'total'),
    indexed by every day from start to end inclusive (UTC midnight timestamps), zeros filled."""
    fields = ["date"] + ([dimension] if dimension else [])
    rows = [
        {**r, "cost": r["effective_cost"]}
        for r in view.spend().between(start, end).by(*fields)
        if r["effective_cost"] or not dimension or r[dimension] is not None
    ]
    index = pd.date_range(start, end, freq="D", tz="UTC")
    if not rows:
        return pd.DataFrame(index=index)
    frame = pd.DataFrame(rows)
    frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize("UTC")
    frame["cost"] = frame["cost"].astype(float)
    if dimension:
        frame[dimension] = frame[dimension].fillna(UNALLOCATED)
        wide = frame.pivot_table(index="date", columns=dimension, values="cost", aggfunc="sum")
    else:
        wide = frame.set_index("date")[["cost"]].rename(columns={"cost": "total"})
    return wide.reindex(index).fillna(0.0)


def cost_series(spec: CostSeriesSpec, start: dt.date, end: dt.date) -> pd.Series:
    """One series' daily effective cost in USD from start to end inclusive."""
    frame = daily_frame(spec.view(), None, start, end)
    if frame.empty:
        return pd.Series(0.0, index=pd.date_range(start, end, freq="D", tz="UTC"), name=spec.key)
    return frame["total"].rename(spec.key)


def all_cost_series(end: dt.date | None = None) -> list[tuple[CostSeriesSpec, pd.Series]]:
    """The total series plus one per service (and unallocated), over the stored history."""
    lo, hi = data_bounds()
    if lo is None:
        return []
    hi = min(hi, end) if end else hi
    lo = max(lo, hi - dt.timedelta(days=MAX_HISTORY_DAYS - 1))
    by_service = daily_frame(CostView(CostRollup.objects.all()), "service__slug", lo, hi)
    names = dict(
        CostRollup.objects.filter(service__isnull=False)
        .values_list("service__slug", "service__name")
        .distinct()
    )
    out = [(TOTAL, by_service.sum(axis=1).rename(TOTAL.key))]
    for column in sorted(by_service.columns):
        spec = service_spec(None if column == UNALLOCATED else column, names.get(column))
        out.append((spec, by_service[column].rename(spec.key)))
    return out


def contributions_frame(spec: CostSeriesSpec, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per-day cost by every root-cause dimension within a series' scope (long format):
    columns date, service, account, region, sku, pricing_category, provider, cost (USD)."""
    dims = ("date", "service__slug", "account__name", "region", "sku", "pricing_category")
    rows = [
        {**r, "cost": r["effective_cost"]}
        for r in spec.view().between(start, end).by(*dims, "provider")
    ]
    columns = [
        "date",
        "service",
        "account",
        "region",
        "sku",
        "pricing_category",
        "provider",
        "cost",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows).rename(
        columns={"service__slug": "service", "account__name": "account"}
    )
    frame["service"] = frame["service"].fillna(UNALLOCATED)
    for col in ("region", "sku", "pricing_category", "provider"):
        frame[col] = frame[col].replace("", "(none)").fillna("(none)")
    frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize("UTC")
    frame["cost"] = frame["cost"].astype(float)
    return frame[columns]
