from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from planner.alerts.budgets import budget_status
from planner.alerts.models import Anomaly, AnomalyStatus, Budget
from planner.billing.currency import rate_note
from planner.core import charts, hints
from planner.core import dashboard as panels
from planner.core.dashboard import (
    by_dimension,
    costs,
    daily_by,
    filtered,
    parse_range,
    raw_by_dimension,
    total,
)
from planner.core.http import bad_request, id_param_problem
from planner.core.models import CloudAccount, Service
from planner.usage.report import fleet_unit_costs

GROUPINGS = {
    "service": "service__slug",
    "provider": "provider",
    "pricing_category": "pricing_category",
    "account": "account__name",
}


def dashboard(request):
    """Spend overview; the figures are cached per query and data version (see dashboard.cached)."""
    problem = id_param_problem(request.GET, "account")
    if problem:
        return bad_request(request, problem)
    context = panels.cached("dashboard", request.GET, lambda: _dashboard_context(request.GET))
    hint = {"first_run_hint": hints.first_run_hint(request.user)}
    return render(request, "core/dashboard.html", {**context, **_alerts(context["range"]), **hint})


@require_POST
def dismiss_hint(request, hint: str):
    """Close a page hint for this user for good (per user, not per browser)."""
    if hint not in hints.HINTS:
        raise Http404(f"No hint {hint!r}.")
    hints.dismiss(request.user, hint)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect("dashboard")


def _shared_gpu_rows(view, raw_by_service) -> dict:
    """By-service rows: (label, cost as tagged, shared-node cost attributed by GPU-hours, cost).
    The last column is the one every other page shows (planner/billing/reports.py); unallocated
    shrinks by what was attributed."""
    attributed = {
        (label if label not in (None, "") else "(none)"): cost
        for label, cost in by_dimension(view, "service__name")
    }
    raw = dict(raw_by_service)
    rows = [
        (label, raw.get(label, 0), cost - raw.get(label, 0), cost)
        for label, cost in attributed.items()
    ]
    rows += [(label, cost, -cost, 0) for label, cost in raw.items() if label not in attributed]
    shared = sum(extra for label, _, extra, _ in rows if label != "(none)")
    return {
        "by_service": list(attributed.items()),
        "service_rows": rows,
        "shared_attributed": shared,
    }


def _dashboard_context(params) -> dict:
    rng = parse_range(params)
    filters = {k: params.get(k, "") for k in ("provider", "account", "service", "tag")}
    group = params.get("group", "service")
    if group not in GROUPINGS:
        group = "service"
    qs = filtered(rng, filters)
    view, prev = costs(rng, filters), costs(rng.previous(), filters)
    spend, prev_spend = total(view), total(prev)
    change = (float(spend) - float(prev_spend)) / float(prev_spend) * 100 if prev_spend else None
    context = {
        "range": rng,
        "filters": filters,
        "group": group,
        "groupings": [(g, g.replace("_", " ").capitalize()) for g in GROUPINGS],
        "spend": spend,
        "prev_spend": prev_spend,
        "change_pct": change,
        "billed": total(view, "billed_cost"),
        "by_provider": by_dimension(view, "provider"),
        "by_category": by_dimension(view, "pricing_category"),
        **_shared_gpu_rows(view, raw_by_dimension(qs, "service__name")),
        "chart_over_time": charts.stacked_daily(daily_by(view, GROUPINGS[group])),
        "chart_provider": charts.donut(by_dimension(view, "provider")),
        "chart_category": charts.donut(by_dimension(view, "pricing_category")),
        "providers": sorted(set(filtered(rng).values_list("provider", flat=True).distinct())),
        "accounts": list(CloudAccount.objects.all()),
        "services": list(Service.objects.all()),
        "has_data": filtered(rng).exists(),
        "tags": list(
            filtered(rng)
            .exclude(service_tag="")
            .values_list("service_tag", flat=True)
            .distinct()
            .order_by("service_tag")
        ),
        "movers": panels.movers(view, prev),
        "prev_days_with_data": filtered(rng.previous(), filters).values("date").distinct().count(),
        "spot_share": panels.spot_share(view),
        "commitments": panels.commitments(qs, rng, filters),
        "forecast": panels.forecast_vs_actual(rng, filters, spend),
        "rate_note": rate_note(qs),  # which ECB rates converted the amounts shown
    }
    unit = panels.unit_cost_by_modality(view, rng, filters)
    context["chart_unit_cost"] = (
        charts.daily_lines(unit, yaxis="USD per unit of work") if unit else None
    )
    context["measured_unit_costs"] = fleet_unit_costs(_services_in(filters), rng.start, rng.end)
    return context


def _services_in(filters: dict):
    qs = Service.objects.all()
    return qs.filter(slug=filters["service"]) if filters.get("service") else qs


def _alerts(rng) -> dict:
    """Open anomalies and budgets at risk. The budgets' status (a cost view and a forecast
    each) is cached per data version and the budgets' own values, as the page's figures are:
    computed on every request it was most of a cached dashboard's time."""
    active = Budget.objects.filter(active=True).order_by("name", "pk")[:20]
    values = list(active.values())  # the fingerprint: every field of every active budget
    fingerprint = hashlib.sha256(repr(values).encode()).hexdigest()

    def at_risk() -> dict:
        rows = []
        for b in (Budget(**v) for v in values):  # the very rows fingerprinted
            st = budget_status(b, today=rng.end)
            if st.amount_usd and (st.forecast_pct >= 100 or st.spend_pct >= 80):
                rows.append(
                    {"budget": b, "spend_pct": st.spend_pct, "forecast_pct": st.forecast_pct}
                )
        return {"budgets_at_risk": rows}

    status = panels.cached(f"budgets:{fingerprint}", {"end": rng.end.isoformat()}, at_risk)
    return {
        "open_anomalies": Anomaly.objects.filter(status=AnomalyStatus.OPEN).count(),
        "budgets_at_risk": status["budgets_at_risk"],
    }


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
