from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from planner.core import charts
from planner.core.dashboard import by_dimension, daily_by, filtered, parse_range, total
from planner.core.models import CloudAccount, Service

GROUPINGS = {
    "service": "service__slug",
    "provider": "provider",
    "pricing_category": "pricing_category",
}


def dashboard(request):
    rng = parse_range(request.GET)
    filters = {k: request.GET.get(k, "") for k in ("provider", "account", "service")}
    group = request.GET.get("group", "service")
    if group not in GROUPINGS:
        group = "service"
    qs = filtered(rng, filters)
    prev = filtered(rng.previous(), filters)
    spend, prev_spend = total(qs), total(prev)
    change = (float(spend) - float(prev_spend)) / float(prev_spend) * 100 if prev_spend else None
    context = {
        "range": rng,
        "filters": filters,
        "group": group,
        "groupings": list(GROUPINGS),
        "spend": spend,
        "prev_spend": prev_spend,
        "change_pct": change,
        "billed": total(qs, "billed_cost"),
        "by_provider": by_dimension(qs, "provider"),
        "by_category": by_dimension(qs, "pricing_category"),
        "by_service": by_dimension(qs, "service__name"),
        "chart_over_time": charts.stacked_daily(daily_by(qs, GROUPINGS[group])),
        "chart_provider": charts.donut(by_dimension(qs, "provider")),
        "chart_category": charts.donut(by_dimension(qs, "pricing_category")),
        "providers": sorted(set(filtered(rng).values_list("provider", flat=True).distinct())),
        "accounts": CloudAccount.objects.all(),
        "services": Service.objects.all(),
        "has_data": filtered(rng).exists(),
    }
    return render(request, "core/dashboard.html", context)


@login_not_required
def healthz(request):
    """For load balancers: database and broker reachable."""
    checks = {}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        checks["database"] = f"error: {type(exc).__name__}"
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = "eager (no broker)"
    else:
        try:
            from planner.celery import app

            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" or v.startswith("eager") for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503
    )
