"""Per-service figures for the services pages, aggregated in the database.

Units: cost in USD (effective cost, i.e. amortised commitments); monthly run-rate = cost over
the range scaled to a 730-hour month; unit cost = cost / units of work in the service's own unit;
SLO attainment = the one definition of :mod:`costmodels.slo` (share of requests in hours whose
p95 is within the objective, from the servers' latency histograms; :mod:`planner.whatif.slo`);
model vs bill = the service's latest calibration (:class:`planner.whatif.models.ServiceCalibration`);
GPU utilisation = mean of the samples' utilisation percentages.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Avg, Count, F, Max, Sum
from django.db.models.functions import TruncHour

from costmodels.catalog import HOURS_PER_MONTH
from planner.billing import reports
from planner.core.dashboard import DateRange
from planner.usage.models import UsageSample
from planner.whatif.models import ServiceCalibration
from planner.whatif.slo import observed_slo


def _ts_bounds(rng: DateRange) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(rng.start, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=rng.days)


def service_rows(services, rng: DateRange) -> list[dict]:
    """One dict per service with cost, run-rate, unit cost, SLO attainment and GPU utilisation."""
    ids = [s.pk for s in services]
    cost = {k: v for k, v in reports.view(rng.start, rng.end).by_service().items() if k in set(ids)}
    lo, hi = _ts_bounds(rng)
    usage = {
        r["deployment__service_id"]: r
        for r in UsageSample.objects.filter(deployment__service_id__in=ids, ts__gte=lo, ts__lt=hi)
        .values("deployment__service_id")
        .annotate(
            units=Sum("units_of_work"),
            util=Avg("gpu_util_pct"),
        )
    }
    cals = {c.service_id: c for c in ServiceCalibration.objects.filter(service_id__in=ids)}
    rows = []
    for s in services:
        c = cost.get(s.pk)
        u = usage.get(s.pk, {})
        units = u.get("units") or 0.0
        rows.append(
            {
                "service": s,
                "cost": c,
                "monthly": float(c) / (rng.days * 24.0) * HOURS_PER_MONTH
                if c is not None
                else None,
                "unit_cost": float(c) / units if c is not None and units > 0 else None,
                "slo_attainment": observed_slo(s, lo, hi).attainment,
                "calibration": cals.get(s.pk),
                "gpu_util": u.get("util"),
            }
        )
    return rows


def hourly_usage(service, rng: DateRange) -> list[dict]:
    """Hourly demand (rps), capacity (rps), GPU utilisation (%), memory (GiB) and p95 (ms)."""
    lo, hi = _ts_bounds(rng)
    rows = (
        UsageSample.objects.filter(deployment__service=service, ts__gte=lo, ts__lt=hi)
        .annotate(hour=TruncHour("ts"))
        .values("hour")
        .annotate(
            demand=Sum("request_rate_rps"),
            capacity=Sum(F("replicas") * F("deployment__throughput_rps_per_replica")),
            replicas=Sum("replicas"),
            steps=Count("ts", distinct=True),
            util=Avg("gpu_util_pct"),
            mem_used=Avg("gpu_mem_used_gib"),
            mem_total=Max("gpu_mem_total_gib"),
            p95=Avg("p95_latency_ms"),
            p95_max=Max("p95_latency_ms"),
        )
        .order_by("hour")
    )
    out = []
    for r in rows:
        n = r["steps"] or 1
        out.append(
            {
                "hour": r["hour"],
                "demand_rps": (r["demand"] or 0.0) / n,
                "capacity_rps": (r["capacity"] or 0.0) / n,
                "replicas": (r["replicas"] or 0.0) / n,
                "util": r["util"],
                "mem_used": r["mem_used"],
                "mem_total": r["mem_total"],
                "p95": r["p95"],
                "p95_max": r["p95_max"],
            }
        )
    return out


def hourly_grid(rows: list[dict]) -> list[dict]:
    """``rows`` on a complete hourly grid from the first to the last hour; missing hours are
    all-None rows so charts show gaps and can use a fixed x step."""
    if not rows:
        return []
    by_hour = {r["hour"]: r for r in rows}
    first, last = rows[0]["hour"], rows[-1]["hour"]
    n = int((last - first).total_seconds() // 3600) + 1
    empty = {k: None for k in rows[0] if k != "hour"}
    grid = []
    for i in range(n):
        h = first + dt.timedelta(hours=i)
        grid.append(by_hour.get(h, {**empty, "hour": h}))
    return grid
