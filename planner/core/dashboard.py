"""Dashboard queries: everything aggregated in the database, nothing looped over line items."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import DecimalField, Max, Min, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from planner.billing.models import CostRollup

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
