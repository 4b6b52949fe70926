"""Observed SLO attainment of a service, by the one definition in :mod:`costmodels.slo`.

Hourly p95 comes from the servers' end-to-end latency histograms (the usage app's
``LatencyHistogram``; deployments' histograms of the same hour are merged by
:func:`costmodels.unit_economics.merge_histograms`). Where a service's servers export no
histogram, each usage sample's recorded p95 stands for its step, weighted by its requests.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

from costmodels.slo import SLO_MET_ATTAINMENT, window_attainment
from costmodels.unit_economics import histogram_quantile, merge_histograms
from planner.usage.models import HistogramKind, LatencyHistogram, UsageSample


@dataclass(frozen=True)
class ObservedSlo:
    attainment: float | None  # share of requests in hours within the p95 objective (0-1)
    objective_p95_ms: float
    windows: int
    source: str  # "latency histograms" | "usage samples"

    @property
    def met(self) -> bool | None:
        return None if self.attainment is None else self.attainment >= SLO_MET_ATTAINMENT


def observed_slo(service, start: dt.datetime, end: dt.datetime) -> ObservedSlo:
    """Attainment over [start, end) (timezone-aware datetimes)."""
    objective = float(service.latency_slo_p95_ms)
    hours: dict[dt.datetime, list] = defaultdict(list)
    rows = LatencyHistogram.objects.filter(
        deployment__service=service, kind=HistogramKind.E2E, end__gt=start, end__lte=end
    ).values_list("end", "bounds_ms", "counts")
    for hour_end, bounds, counts in rows:
        b = tuple(math.inf if x is None else float(x) for x in bounds)
        hours[hour_end].append((b, counts))
    if hours:
        p95, req = [], []
        for parts in hours.values():
            layouts: dict[tuple, list] = defaultdict(list)
            for b, c in parts:
                layouts[b].append((b, c))
            b, c = max((merge_histograms(v) for v in layouts.values()), key=lambda x: sum(x[1]))
            n = float(sum(c))
            q = histogram_quantile(0.95, b, c) if n > 0 else None
            p95.append(math.nan if q is None else q)
            req.append(n)
        return ObservedSlo(
            window_attainment(p95, req, objective), objective, len(req), "latency histograms"
        )
    samples = UsageSample.objects.filter(
        deployment__service=service, ts__gte=start, ts__lt=end, request_rate_rps__gt=0
    ).values_list("p95_latency_ms", "request_rate_rps", "step_seconds")
    p95 = [math.nan if p is None else p for p, _, _ in samples]
    req = [r * s for _, r, s in samples]
    return ObservedSlo(
        window_attainment(p95, req, objective) if req else None,
        objective,
        len(req),
        "usage samples",
    )


def histogram_bounds(service) -> tuple[float, ...] | None:
    """The bucket bounds (ms, last ``inf``) of the service's latest end-to-end histogram, so
    simulated latency is read through the same buckets (None: no histograms)."""
    last = (
        LatencyHistogram.objects.filter(deployment__service=service, kind=HistogramKind.E2E)
        .order_by("-end")
        .values_list("bounds_ms", flat=True)
        .first()
    )
    return None if last is None else tuple(math.inf if x is None else float(x) for x in last)
