from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from planner.core import charts
from planner.core import dashboard as panels
from planner.core.dashboard import by_dimension, daily_by, filtered, parse_range, total
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
    return render(request, "core/dashboard.html", {**context, **_alerts(context["range"])})


def _shared_gpu_rows(rng, filters, by_service) -> dict:
    """By-service rows with the untagged shared-GPU-node cost attributed by GPU-hours (see
    planner/billing/attribution.py for the rule); unallocated shrinks by what was attributed."""
    from planner.billing.attribution import shared_cost_by_service

    shared = {}
    if not filters.get("provider") and not filters.get("tag"):
        account = int(filters["account"]) if str(filters.get("account") or "").isdigit() else None
        names = dict(Service.objects.values_list("pk", "name"))
        shared = {
            names[k]: v for k, v in shared_cost_by_service(rng.start, rng.end, account).items()
        }
        if filters.get("service") and filters["service"] != "unallocated":
            wanted = (
                Service.objects.filter(slug=filters["service"])
                .values_list("name", flat=True)
                .first()
            )
            shared = {k: v for k, v in shared.items() if k == wanted}
    attributed = sum(shared.values())
    rows = []
    for label, cost in by_service:
        extra = -attributed if label == "(none)" else shared.get(label, 0)
        rows.append((label, cost, extra, cost + extra))
    seen = {label for label, _ in by_service}
    rows += [(name, 0, extra, extra) for name, extra in shared.items() if name not in seen]
    return {"service_rows": rows, "shared_attributed": attributed}


def _dashboard_context(params) -> dict:
    rng = parse_range(params)
    filters = {k: params.get(k, "") for k in ("provider", "account", "service", "tag")}
    group = params.get("group", "service")
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
        "groupings": [(g, g.replace("_", " ").capitalize()) for g in GROUPINGS],
        "spend": spend,
        "prev_spend": prev_spend,
        "change_pct": change,
        "billed": total(qs, "billed_cost"),
        "by_provider": by_dimension(qs, "provider"),
        "by_category": by_dimension(qs, "pricing_category"),
        "by_service": by_dimension(qs, "service__name"),
        **_shared_gpu_rows(rng, filters, by_dimension(qs, "service__name")),
        "chart_over_time": charts.stacked_daily(daily_by(qs, GROUPINGS[group])),
        "chart_provider": charts.donut(by_dimension(qs, "provider")),
        "chart_category": charts.donut(by_dimension(qs, "pricing_category")),
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
        "movers": panels.movers(qs, prev),
        "prev_days_with_data": prev.values("date").distinct().count(),
        "spot_share": panels.spot_share(qs),
        "commitments": panels.commitments(qs, rng, filters),
        "forecast": panels.forecast_vs_actual(rng, filters, spend),
    }
    unit = panels.unit_cost_by_modality(qs, rng, filters)
    context["chart_unit_cost"] = (
        charts.daily_lines(unit, yaxis="USD per unit of work") if unit else None
    )
    context["measured_unit_costs"] = fleet_unit_costs(_services_in(filters), rng.start, rng.end)
    return context


def _services_in(filters: dict):
    qs = Service.objects.all()
    return qs.filter(slug=filters["service"]) if filters.get("service") else qs


def _alerts(rng) -> dict:
    """Open anomalies and budgets at risk, when the alerts app is installed (else nothing)."""
    from django.apps import apps

    if not apps.is_installed("planner.alerts"):
        return {}
    out: dict = {"alerts_installed": True}
    try:
        Anomaly = apps.get_model("alerts", "Anomaly")
        out["open_anomalies"] = Anomaly.objects.filter(status="open").count()
    except (LookupError, Exception):  # noqa: BLE001 - another app's schema; show nothing rather than fail
        out["open_anomalies"] = None
    try:
        from planner.alerts.budgets import budget_status

        Budget = apps.get_model("alerts", "Budget")
        at_risk = []
        for b in Budget.objects.filter(active=True)[:20]:
            st = budget_status(b, today=rng.end)
            if st.amount_usd and (st.forecast_pct >= 100 or st.spend_pct >= 80):
                at_risk.append(
                    {"budget": b, "spend_pct": st.spend_pct, "forecast_pct": st.forecast_pct}
                )
        out["budgets_at_risk"] = at_risk
    except Exception:  # noqa: BLE001
        out["budgets_at_risk"] = None
    return out


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
