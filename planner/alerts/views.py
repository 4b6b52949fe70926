"""Anomaly and budget pages: thin views over detection/budgets services."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from planner.alerts import charts
from planner.alerts.budgets import budget_status
from planner.alerts.detection import episodes
from planner.alerts.forms import AnomalyStatusForm, AnomalySubscriptionForm, BudgetForm
from planner.alerts.models import Anomaly, AnomalyStatus, AnomalySubscription, Budget
from planner.alerts.series import CostSeriesSpec, cost_series, daily_frame, data_bounds
from planner.core.roles import ANALYST, has_role, require_owner_or_admin, role_required

CHART_DAYS_BEFORE = 28
CHART_DAYS_AFTER = 7


def _anomaly_chart(anomaly: Anomaly) -> str | None:
    """Re-run the (online) detector over the series' history to draw the expected band."""
    lo, hi = data_bounds()
    if lo is None:
        return None
    spec = CostSeriesSpec(anomaly.series_key, anomaly.series_label, anomaly.dimensions or {})
    end = min(hi, anomaly.end + dt.timedelta(days=CHART_DAYS_AFTER))
    series = cost_series(spec, max(lo, end - dt.timedelta(days=399)), end)
    try:
        _, result = episodes(series)
    except ValueError:
        return None
    first = anomaly.start - dt.timedelta(days=CHART_DAYS_BEFORE)
    result = result[result.index.date >= first]
    return charts.anomaly_band(result, anomaly.start, anomaly.end)


def anomalies(request):
    status = request.GET.get("status", "open")
    qs = Anomaly.objects.all()
    if status in AnomalyStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    selected = None
    if request.GET.get("id", "").isdigit():
        selected = Anomaly.objects.filter(pk=int(request.GET["id"])).first()
    selected = selected or (page.object_list[0] if page.object_list else None)
    context = {
        "page": page,
        "status": status,
        "statuses": AnomalyStatus.choices,
        "selected": selected,
        "chart": _anomaly_chart(selected) if selected else None,
        "form": AnomalyStatusForm(),
    }
    return render(request, "alerts/anomalies.html", context)


def anomaly_detail(request, pk: int):
    anomaly = get_object_or_404(Anomaly, pk=pk)
    return render(
        request,
        "alerts/anomaly_detail.html",
        {"anomaly": anomaly, "chart": _anomaly_chart(anomaly), "statuses": AnomalyStatus.choices},
    )


@require_POST
@role_required(ANALYST)
def anomaly_set_status(request, pk: int):
    anomaly = get_object_or_404(Anomaly, pk=pk)
    form = AnomalyStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose open, acknowledged or resolved.")
        return redirect("anomaly-detail", pk=pk)
    Anomaly.objects.filter(pk=pk).update(
        status=form.cleaned_data["status"],
        note=form.cleaned_data["note"] or anomaly.note,
        status_changed_by=request.user,
        status_changed_at=timezone.now(),
    )
    messages.success(
        request, f"Anomaly on {anomaly.series_label} marked {form.cleaned_data['status']}."
    )
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect("anomaly-detail", pk=pk)


def budgets(request):
    rows = [(b, budget_status(b)) for b in Budget.objects.select_related("account", "service")]
    return render(request, "alerts/budgets.html", {"rows": rows})


def budget_detail(request, pk: int):
    budget = get_object_or_404(Budget.objects.select_related("account", "service"), pk=pk)
    status = budget_status(budget)
    last = status.as_of or status.period_start
    daily = daily_frame(budget.costs(), None, status.period_start, last)
    series = daily["total"] if "total" in daily else daily.sum(axis=1)
    chart = charts.budget_burn(
        series, status.amount_usd, status.period_start, status.period_end, status.forecast_usd
    )
    return render(
        request,
        "alerts/budget_detail.html",
        {"budget": budget, "status": status, "chart": chart, "alerts": budget.alerts.all()[:100]},
    )


def _budget_form(request, budget: Budget | None):
    form = BudgetForm(request.POST or None, instance=budget)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if budget is None:
            saved.created_by = request.user
        saved.save()
        messages.success(request, f"Budget {saved.name} saved.")
        return redirect("budget-detail", pk=saved.pk)
    return render(request, "alerts/budget_form.html", {"form": form, "budget": budget})


@role_required(ANALYST)
def budget_create(request):
    return _budget_form(request, None)


@role_required(ANALYST)
def budget_edit(request, pk: int):
    budget = get_object_or_404(Budget, pk=pk)
    require_owner_or_admin(request.user, budget)
    return _budget_form(request, budget)


def subscriptions(request):
    """Who is told about anomalies (immediately or in a daily digest); analysts add and edit."""
    editing = None
    if request.GET.get("edit", "").isdigit():
        editing = get_object_or_404(AnomalySubscription, pk=int(request.GET["edit"]))
    form = AnomalySubscriptionForm(request.POST or None, instance=editing)
    if request.method == "POST":
        if not has_role(request.user, ANALYST):
            raise PermissionDenied("Changing anomaly alerts needs the analyst role.")
        if form.is_valid():
            saved = form.save()
            messages.success(request, f"Anomaly alerts for {saved.name} saved.")
            return redirect("anomaly-subscriptions")
    return render(
        request,
        "alerts/subscriptions.html",
        {"subscriptions": AnomalySubscription.objects.all(), "form": form, "editing": editing},
    )
