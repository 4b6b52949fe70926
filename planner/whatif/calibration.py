"""Calibration of each service's model against its bill and its observed SLO.

The evidence window (the recommendations' window) is replayed *as deployed*: recorded demand,
the autoscaler and purchase mix inferred from the metrics and the bill
(:func:`planner.whatif.engine.load_inputs`), the capacity fitted from GPU utilisation. Its
simulated compute cost is compared with the billed compute cost of the same days:

* billed compute = the service's own (tagged) cost on its deployments' instance types, read
  through :mod:`planner.billing.reports` (the rollups' instance-type dimension);
* billed cost the model does not cover, shown apart: the service's share of untagged
  shared-GPU-node cost (spare nodes no deployment runs on), and the rest of its cost (egress,
  storage, support, overhead);
* days inside a detected cost anomaly of the service (alerts app) are left out of both sides
  and listed: an anomaly is by definition what the model of normal operation does not explain.

Observed and simulated SLO attainment follow :mod:`costmodels.slo` over the whole window.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
from django.core.cache import cache

from costmodels.calibration import CostCalibration
from costmodels.results import MINUTES_PER_MONTH
from costmodels.slo import simulated_attainment
from planner.billing import reports
from planner.core.models import Service
from planner.whatif import engine
from planner.whatif.slo import observed_slo

CALIBRATION_WINDOW_DAYS = 14  # the recommendations' evidence window
MAX_COST_ERROR_PCT = 2.0  # beyond this residual a service is "uncalibrated"
MAX_SLO_GAP = 0.02
CACHE_SECONDS = 600


def anomaly_days(service: Service, start: dt.date, end: dt.date) -> set[dt.date]:
    """Days in [start, end) inside a detected cost anomaly episode of the service."""
    from planner.alerts.models import Anomaly

    days: set[dt.date] = set()
    for a_start, a_end in Anomaly.objects.filter(
        series_key=f"cost:service={service.slug}", start__lt=end, end__gte=start
    ).values_list("start", "end"):
        d = max(a_start, start)
        while d <= a_end and d < end:
            days.add(d)
            d += dt.timedelta(days=1)
    return days


def billed_by_day(service: Service, start: dt.date, end: dt.date) -> tuple[dict, dict, dict]:
    """({day: billed compute}, {day: shared-node share}, {day: other billed}) in USD over
    [start, end), read through the one cost-per-service view (:mod:`planner.billing.reports`).

    Billed compute is the service's own (tagged) cost on its deployments' instance types (the
    rollups' instance-type dimension); the shared-node share is the untagged node cost the
    attribution rule gives the service on those types; other is everything else it is billed."""
    types = set(service.deployments.values_list("instance_type", flat=True))
    compute: dict[dt.date, float] = defaultdict(float)
    shared: dict[dt.date, float] = defaultdict(float)
    other: dict[dt.date, float] = defaultdict(float)
    view = reports.view(start, end - dt.timedelta(days=1), service=service.slug)
    for r in view.by("date", "instance_type", "service_tag"):
        if r["instance_type"] not in types:
            bucket = other
        else:
            bucket = compute if r["service_tag"] else shared
        bucket[r["date"]] += float(r["effective_cost"])
    return compute, shared, other


def simulated_by_day(inputs: engine.ServiceInputs, result) -> dict[dt.date, float]:
    """The as-deployed simulation's cost split by day (in proportion to each day's ready
    replicas priced by the purchase mix; the total is the simulator's)."""
    ready = np.asarray(result.replicas, float)
    offer, mix = inputs.offer, inputs.mix
    over = np.maximum(ready - mix.committed_replicas, 0.0)
    spot = np.floor(mix.spot_share * over + 0.5)
    per_min = (
        mix.committed_replicas * (offer.commit_usd_per_hour(mix.commitment_term) or 0.0)
        + spot * (offer.spot_usd_per_hour or 0.0)
        + (over - spot) * offer.ondemand_usd_per_hour
    )
    total = per_min.sum()
    scale = result.total_cost_usd / total if total > 0 else 0.0
    t0 = inputs.start
    out: dict[dt.date, float] = defaultdict(float)
    for i in range(0, ready.size, 60):
        out[(t0 + dt.timedelta(minutes=i)).date()] += float(per_min[i : i + 60].sum()) * scale
    return out


def calibrate(
    service: Service, window_days: int = CALIBRATION_WINDOW_DAYS, inputs=None
) -> CostCalibration:
    """Billed vs simulated compute and observed vs simulated SLO over the evidence window
    (``inputs``: the service's already loaded :class:`engine.ServiceInputs`, if at hand)."""
    if inputs is None:
        inputs = engine.load_inputs(service, window_days=window_days)
    result = engine.run(inputs, [engine.baseline(inputs)], keep_series=True)[0]
    start, end = inputs.start.date(), inputs.end.date()
    if inputs.end.time() != dt.time(0, tzinfo=inputs.end.tzinfo):
        end += dt.timedelta(days=1)
    excluded = anomaly_days(service, start, end)
    billed, shared, other = billed_by_day(service, start, end)
    simulated = simulated_by_day(inputs, result)
    days = [d for d in sorted(simulated) if d not in excluded and start <= d < end]
    full = [d for d in days if _full_day(inputs, d)]
    days = full or days
    hours = 24.0 * len(days)
    monthly = lambda xs: sum(xs) / hours * (MINUTES_PER_MONTH / 60.0) if hours else 0.0  # noqa: E731
    return CostCalibration(
        service=service.slug,
        days_compared=len(days),
        days_excluded=tuple(d.isoformat() for d in sorted(excluded)),
        billed_compute_monthly_usd=monthly(billed.get(d, 0.0) for d in days),
        simulated_compute_monthly_usd=monthly(simulated.get(d, 0.0) for d in days),
        billed_other_monthly_usd=monthly(other.get(d, 0.0) for d in days),
        billed_shared_monthly_usd=monthly(shared.get(d, 0.0) for d in days),
        observed_slo_attainment=observed_slo(service, inputs.start, inputs.end).attainment,
        simulated_slo_attainment=simulated_attainment(
            result.p95_latency_ms,
            inputs.demand_per_min,
            float(service.latency_slo_p95_ms),
            inputs.latency_bounds_ms,
        ),
    )


def _full_day(inputs: engine.ServiceInputs, day: dt.date) -> bool:
    lo = dt.datetime.combine(day, dt.time.min, tzinfo=inputs.start.tzinfo)
    return lo >= inputs.start and lo + dt.timedelta(days=1) <= inputs.end


def cached_calibration(service: Service) -> CostCalibration | None:
    """The service's calibration, cached for the pages (None when it cannot be simulated)."""
    from planner.usage.models import UsageSample

    last = (
        UsageSample.objects.filter(deployment__service=service)
        .order_by("-ts")
        .values_list("ts", flat=True)
        .first()
    )
    key = f"whatif:calibration:{service.pk}:{last.isoformat() if last else '-'}"
    hit = cache.get(key)
    if hit is not None:
        return hit or None
    try:
        value = calibrate(service)
    except engine.ScenarioInputError:
        value = None
    cache.set(key, value or False, CACHE_SECONDS)
    return value


def as_json(c: CostCalibration) -> dict:
    """The calibration command's line for one service (fractions 0-1, USD per month)."""
    r = lambda x, n=4: None if x is None else round(float(x), n)  # noqa: E731
    return {
        "service": c.service,
        "billed_compute_monthly": r(c.billed_compute_monthly_usd, 2),
        "simulated_compute_monthly": r(c.simulated_compute_monthly_usd, 2),
        "cost_error_pct": r(c.cost_error_pct, 3),
        "observed_slo_attainment": r(c.observed_slo_attainment),
        "simulated_slo_attainment": r(c.simulated_slo_attainment),
        "billed_not_modelled_monthly": r(c.billed_other_monthly_usd, 2),
        "billed_shared_node_monthly": r(c.billed_shared_monthly_usd, 2),
        "days_compared": c.days_compared,
        "days_excluded": list(c.days_excluded),
    }
