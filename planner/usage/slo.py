"""Latency SLOs from the servers' histograms, the capacity fit on measured batches, and the
queue-length trigger for KEDA.

Quantiles over a range come from the buckets summed over the range (what Prometheus'
``histogram_quantile(q, sum by (le) (increase(..[range])))`` gives), never from averaging
per-step percentiles. Attainment is the share of requests within the objective, interpolated
inside the bucket that holds it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from costmodels.unit_economics import (
    BatchServiceFit,
    fit_batch_service_time,
    fraction_within,
    histogram_quantile,
    merge_histograms,
)
from planner.usage.models import HistogramKind, LatencyHistogram, ServiceServingTargets, UsageSample


@dataclass(frozen=True)
class LatencySlo:
    kind: str
    label: str
    requests: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    objective_p95_ms: float | None
    attainment: float | None  # share of requests within the objective
    met: bool | None
    metric: str


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    return lo, dt.datetime.combine(end, dt.time.min, tzinfo=dt.UTC) + dt.timedelta(days=1)


def objectives(service) -> dict[str, float | None]:
    t = ServiceServingTargets.objects.filter(service=service).first()
    return {
        "e2e": float(service.latency_slo_p95_ms),
        "ttft": float(t.ttft_slo_p95_ms) if t and t.ttft_slo_p95_ms else None,
        "itl": float(t.itl_slo_p95_ms) if t and t.itl_slo_p95_ms else None,
        "queue": None,
    }


def latency_slos(service, start: dt.date, end: dt.date) -> list[LatencySlo]:
    """One row per histogram kind measured for the service's deployments in the range."""
    lo, hi = _bounds(start, end)
    groups: dict[tuple[str, tuple], list] = {}
    metrics: dict[str, set[str]] = {}
    rows = LatencyHistogram.objects.filter(
        deployment__service=service, end__gt=lo, end__lte=hi
    ).values_list("kind", "bounds_ms", "counts", "source_metric")
    for kind, bounds, counts, metric in rows:
        b = tuple(math.inf if x is None else float(x) for x in bounds)
        groups.setdefault((kind, b), []).append((b, counts))
        metrics.setdefault(kind, set()).add(metric)
    targets = objectives(service)
    labels = dict(HistogramKind.choices)
    out = []
    for kind in [k for k, _ in HistogramKind.choices]:
        # deployments with different bucket layouts cannot be merged: take the busiest layout
        layouts = [v for (k, _), v in groups.items() if k == kind]
        if not layouts:
            continue
        bounds, counts = max((merge_histograms(v) for v in layouts), key=lambda bc: sum(bc[1]))
        objective = targets.get(kind)
        share = fraction_within(objective, bounds, counts) if objective else None
        p95 = histogram_quantile(0.95, bounds, counts)
        out.append(
            LatencySlo(
                kind,
                labels[kind],
                float(sum(counts)),
                histogram_quantile(0.5, bounds, counts),
                p95,
                histogram_quantile(0.99, bounds, counts),
                objective,
                share,
                None if objective is None or p95 is None else p95 <= objective,
                ", ".join(sorted(metrics[kind])),
            )
        )
    return out


@dataclass(frozen=True)
class MeasuredCapacity:
    fit: BatchServiceFit
    configured_rps_per_replica: float
    samples_from: str


def measured_capacity(service, start: dt.date, end: dt.date) -> MeasuredCapacity | None:
    """Batch service time fitted on the measured batch sizes and service times (per deployment
    step, weighted by the requests served). None when the servers report no batches."""
    lo, hi = _bounds(start, end)
    rows = list(
        UsageSample.objects.filter(
            deployment__service=service,
            ts__gte=lo,
            ts__lt=hi,
            batch_size__isnull=False,
            service_time_ms__isnull=False,
        ).values_list(
            "batch_size",
            "service_time_ms",
            "requests_succeeded",
            "deployment__throughput_rps_per_replica",
        )
    )
    if len(rows) < 3:
        return None
    b, t, w, conf = zip(*rows, strict=True)
    try:
        fit = fit_batch_service_time(b, t, [x if x else 1.0 for x in w])
    except ValueError:
        return None
    return MeasuredCapacity(fit, float(max(conf)), f"{len(rows)} samples")


def keda_queue_metric(deployment, prometheus_url: str, selector: str | None = None):
    """The deployment's own queue gauge as a KEDA Prometheus trigger (vLLM waiting requests,
    Triton pending requests, TGI queue size): desired replicas = ceil(waiting / threshold).

    Threshold: the waiting requests one replica drains within the queueing budget of its SLO,
    ``throughput_rps_per_replica × (SLO p95 − measured p95 service time)`` (Little's law), at
    least 1; without a measured service time, half the SLO is the budget. ``None`` when the
    deployment's server has no queue gauge.
    """
    from ingest.prometheus.serving import render
    from planner.plans.exports.decision import PrometheusMetric
    from planner.usage.tasks import _selector, serving_stack_for

    serving = serving_stack_for(deployment)
    if serving is None or not serving.queue_metric:
        return None
    recent = (
        UsageSample.objects.filter(deployment=deployment, service_time_ms__isnull=False)
        .order_by("-ts")
        .values_list("service_time_ms", flat=True)[:60]
    )
    measured = sorted(recent)
    slo_ms = float(deployment.service.latency_slo_p95_ms)
    budget_ms = slo_ms - measured[int(0.95 * (len(measured) - 1))] if measured else slo_ms / 2
    threshold = max(1.0, round(deployment.throughput_rps_per_replica * budget_ms / 1000.0, 1))
    sel = selector if selector is not None else _selector(deployment)
    query = render(f"sum({serving.queue_metric}{{SEL}})", sel, 60, "5m")
    name = deployment.service.slug.replace("-", "_") + "_queue"
    return PrometheusMetric(prometheus_url, query, threshold, metric_name=name)
