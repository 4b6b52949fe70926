"""The services pages (list and detail): the Service model lives in core, so do its pages.

Thin: each view reads the range, calls the per-service figures (planner/core/fleet.py, cost
from planner/billing/reports.py) and renders.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from costmodels.errors import SeriesInputError
from planner.core import charts as core_charts
from planner.core import fleet
from planner.core.dashboard import cached, costs, daily_by, parse_range, total
from planner.core.models import Service
from planner.usage.views import unit_economics_context
from planner.whatif import charts
from planner.whatif.models import RecommendationStatus

HOUR_MS = 3_600_000
DEPLOYMENT_COLUMNS = (
    "name",
    "provider",
    "region",
    "instance_type",
    "gpu_count",
    "gpu_model",
    "mig_profile",
    "min_replicas",
    "max_replicas",
    "throughput_rps_per_replica",
    "service_id",
)
ENDPOINT_COLUMNS = ("stack", "metrics_mapping", "deployment_id")
RECOMMENDATION_COLUMNS = (
    "kind",
    "title",
    "monthly_savings_usd",
    "slo_risk",
    "confidence",
    "evidence",
    "service_id",
)


def services(request):
    rng = parse_range(request.GET)
    page = Paginator(Service.objects.order_by("name"), 50).get_page(request.GET.get("page"))
    rows = fleet.service_rows(list(page.object_list), rng)
    return render(request, "core/services.html", {"range": rng, "rows": rows, "page": page})


def service_detail(request, slug):
    # with its serving targets (a one-to-one the unit economics read): one query for both
    service = get_object_or_404(Service.objects.select_related("serving_targets"), slug=slug)
    figures = cached(f"service:{slug}", request.GET, lambda: _service_figures(service, request.GET))
    # the columns the tables show, and each deployment's serving endpoint (the unit economics'
    # key) in the same query: a cached view's time is mostly building and sending queries
    deployments = list(
        service.deployments.select_related("serving_endpoint")
        .only(*DEPLOYMENT_COLUMNS, *(f"serving_endpoint__{c}" for c in ENDPOINT_COLUMNS))
        .order_by("name")
    )
    return render(
        request,
        "core/service_detail.html",
        {
            **figures,
            "service": service,
            "deployments": deployments,
            "recommendations": service.recommendations.filter(
                status=RecommendationStatus.OPEN
            ).only(*RECOMMENDATION_COLUMNS),
            **unit_economics_context(service, figures["range"], deployments),
        },
    )


def _service_figures(service, params) -> dict:
    """The service page's aggregates and charts (cached per data version)."""
    rng = parse_range(params)
    row = fleet.service_rows([service], rng)[0]
    row.pop("service")
    hourly = fleet.hourly_grid(fleet.hourly_usage(service, rng))
    x = hourly[0]["hour"] if hourly else None
    view = costs(rng, {"service": service.slug})
    out = {
        "range": rng,
        "row": row,
        "has_usage": bool(hourly),
        "cost": total(view),
        "chart_cost": core_charts.stacked_daily(daily_by(view, "pricing_category")),
    }
    if hourly:
        out["chart_demand"] = charts.lines(
            x,
            {
                "demand (req/s)": [h["demand_rps"] for h in hourly],
                "capacity (req/s)": [h["capacity_rps"] for h in hourly],
            },
            "requests / s",
            dx_ms=HOUR_MS,
        )
        out["demand_forecast"] = _demand_forecast(hourly)
        out["chart_gpu"] = charts.lines(
            x,
            {
                "GPU utilisation (%)": [h["util"] for h in hourly],
                "GPU memory used (% of total)": [
                    100.0 * h["mem_used"] / h["mem_total"] if h["mem_total"] else None
                    for h in hourly
                ],
            },
            "percent",
            dx_ms=HOUR_MS,
        )
        out["chart_latency"] = charts.lines(
            x,
            {
                "p95 latency, hourly mean (ms)": [h["p95"] for h in hourly],
                "p95 latency, hourly max (ms)": [h["p95_max"] for h in hourly],
            },
            "ms",
            ref=service.latency_slo_p95_ms,
            ref_name="SLO",
            dx_ms=HOUR_MS,
        )
    return out


def _demand_forecast(hourly: list[dict]) -> dict | None:
    """Next 24 hours of demand (req/s) with the 80 % interval and the backtest behind it."""
    import pandas as pd

    from costmodels.forecast import forecast_with_backtest

    values = [h["demand_rps"] for h in hourly]
    if len(values) < 72 or any(v is None for v in values[-72:]):
        return None
    index = pd.date_range(end=pd.Timestamp(hourly[-1]["hour"]), periods=len(values), freq="h")
    series = pd.Series(values, index=index, dtype=float).interpolate().fillna(0.0)
    try:
        fc, backtest = forecast_with_backtest(series, 24)
    except (SeriesInputError, ValueError):
        return None
    peak = int(fc["forecast"].to_numpy().argmax())
    return {
        "peak_rps": float(fc["forecast"].iloc[peak]),
        "peak_at": fc.index[peak],
        "lower": float(fc["lower_80"].iloc[peak]),
        "upper": float(fc["upper_80"].iloc[peak]),
        "backtest": backtest.display(),
    }
