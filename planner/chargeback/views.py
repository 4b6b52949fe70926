"""Chargeback pages: the period's report per team (with its chart, detail and exports), the
teams and rules, report subscriptions, and the export of any page table as Parquet."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.contrib import messages
from django.db import transaction
from django.db.models import Max
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from planner.alerts.models import NotificationKind, parse_recipients
from planner.alerts.notify import deliver
from planner.api.exports import FORMATS, requested_format, table_response
from planner.billing.currency import rate_note
from planner.billing.models import CostRollup
from planner.chargeback.delivery import report_email
from planner.chargeback.forms import (
    EmailReportForm,
    SharedCostPoolForm,
    SubscriptionForm,
    TagRuleForm,
    TeamForm,
)
from planner.chargeback.models import (
    FixedShare,
    ReportSubscription,
    SharedCostPool,
    Team,
)
from planner.chargeback.report import DETAIL_HEADER, TEAM_HEADER, Period, build_report
from planner.core.roles import ANALYST, role_required

MAX_EXPORT_CELLS = 2_000_000


def _period(request) -> Period:
    text = request.GET.get("month") or request.POST.get("month") or ""
    try:
        first = dt.date.fromisoformat(f"{text}-01")
    except ValueError:
        latest = CostRollup.objects.aggregate(d=Max("date"))["d"] or dt.date.today()
        first = latest.replace(day=1)
    return Period.month(first)


def chargeback(request):
    period = _period(request)
    report = build_report(period)
    fmt = requested_format(request)
    if fmt:
        team = request.GET.get("team")
        teams = [team] if team else None
        if request.GET.get("table") == "detail":
            return table_response(
                fmt, f"chargeback-detail-{period.key}", DETAIL_HEADER, report.detail_rows(teams)
            )
        suffix = f"-{team}" if team else ""
        return table_response(
            fmt, f"chargeback-{period.key}{suffix}", TEAM_HEADER, report.team_rows(teams)
        )
    context = {
        "period": period,
        "report": report,
        "rows": report.team_rows(),
        "detail": report.detail_rows(),
        "figure": json.dumps(report.figure()),
        "rate_note": rate_note(
            CostRollup.objects.filter(date__gte=period.start, date__lte=period.end)
        ),
        "export_query": f"month={period.key}",
        "teams": Team.objects.prefetch_related("tag_rules"),
        "pools": SharedCostPool.objects.prefetch_related("teams", "shares__team"),
        "subscriptions": ReportSubscription.objects.prefetch_related("teams"),
        "team_form": TeamForm(),
        "rule_form": TagRuleForm(),
        "pool_form": SharedCostPoolForm(),
        "subscription_form": SubscriptionForm(),
        "email_form": EmailReportForm(),
    }
    return render(request, "chargeback/report.html", context)


def _saved(request, form, what: str) -> None:
    if form.is_valid():
        obj = form.save()
        messages.success(request, f"{what} “{obj}” saved.")
    else:
        for field, errs in form.errors.items():
            messages.error(
                request, f"{what}: {'' if field == '__all__' else field + ': '}{'; '.join(errs)}"
            )


@require_POST
@role_required(ANALYST)
def add_team(request):
    _saved(request, TeamForm(request.POST), "Team")
    return redirect("chargeback")


@require_POST
@role_required(ANALYST)
def add_rule(request):
    _saved(request, TagRuleForm(request.POST), "Tag rule")
    return redirect("chargeback")


@require_POST
@role_required(ANALYST)
def add_pool(request):
    form = SharedCostPoolForm(request.POST)
    if form.is_valid():
        with transaction.atomic():
            pool = form.save()
            for team, percent in form.cleaned_data["parsed_shares"]:
                FixedShare.objects.create(pool=pool, team=team, percent=percent)
        messages.success(request, f"Shared-cost pool “{pool}” saved.")
    else:
        _saved(request, form, "Shared-cost pool")
    return redirect("chargeback")


@require_POST
@role_required(ANALYST)
def add_subscription(request):
    _saved(request, SubscriptionForm(request.POST), "Report subscription")
    return redirect("chargeback")


@require_POST
@role_required(ANALYST)
def email_report(request):
    period = _period(request)
    form = EmailReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(form.errors["recipients"]))
        return redirect(reverse("chargeback") + f"?month={period.key}")
    recipients = parse_recipients(form.cleaned_data["recipients"])
    error = deliver(
        report_email(build_report(period), recipients),
        kind=NotificationKind.CHARGEBACK,
        key=f"chargeback-sent-by-hand:{period.key}:{uuid.uuid4().hex}",
    )
    if error is None:
        messages.success(request, f"Chargeback {period.key} sent to {', '.join(recipients)}.")
    else:
        messages.error(
            request, f"Chargeback {period.key} not sent: {type(error).__name__}: {error}"
        )
    return redirect(reverse("chargeback") + f"?month={period.key}")


@require_POST
def export_table(request):
    """Any table of a page as CSV or Parquet: the page posts the cells it shows (JSON
    ``{"name", "format", "header", "rows"}``). Logged-in users only; CSRF-checked."""
    try:
        data = json.loads(request.body or b"{}")
        header = [str(h) for h in data["header"]]
        rows = [list(r) for r in data["rows"]]
        fmt = data.get("format", "csv")
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest("send JSON with header (list) and rows (list of lists)")
    if fmt not in FORMATS or any(len(r) != len(header) for r in rows):
        return HttpResponseBadRequest(
            f"format must be one of {FORMATS}; every row as long as the header"
        )
    if len(header) * (len(rows) + 1) > MAX_EXPORT_CELLS:
        return HttpResponseBadRequest("table too large to export this way")
    rows = [[_typed(c) for c in r] for r in rows]
    return table_response(fmt, str(data.get("name") or "table"), header, rows)


def _typed(cell):
    """Numbers shown with thousands separators or a % sign become numbers again."""
    if not isinstance(cell, str):
        return cell if isinstance(cell, int | float) or cell is None else str(cell)
    text = cell.strip().replace(",", "")
    pct = text.endswith("%")
    try:
        value = float(text[:-1] if pct else text)
    except ValueError:
        return cell.strip()
    return value / 100 if pct else value
