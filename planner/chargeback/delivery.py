"""Emailing chargeback reports: on demand, and on schedule to subscribers (weekly or monthly).

Each scheduled send is claimed first (a :class:`ReportDelivery` row, unique per subscription
and period), so two beat runs or two workers never send the same report twice; a failed send
is recorded and retried by the next run. The email has the team table and its chart in HTML,
and the CSV and Parquet files attached (alerts app machinery: three templates, absolute links).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from planner.alerts.models import DeliveryStatus, NotificationKind
from planner.alerts.notify import _record, absolute, build_email, deliver
from planner.chargeback.models import ReportDelivery, ReportSubscription
from planner.chargeback.report import ChargebackReport, Period, build_report


def report_email(report: ChargebackReport, recipients: list[str], teams: list[str] | None = None):
    """The report as an email (HTML + text) with ``.csv`` and ``.parquet`` attached."""
    rows = report.team_rows(teams)
    context = {
        "report": report,
        "period": report.period,
        "rows": rows,
        "bars": report.chart_bars(teams),
        "teams": teams,
        "notes": report.allocation.notes,
        "url": absolute(reverse("chargeback") + f"?month={report.period.start:%Y-%m}"),
    }
    message = build_email("chargeback", context, recipients)
    name = f"chargeback-{report.period.key}"
    message.attach(f"{name}.csv", report.csv(teams), "text/csv")
    message.attach(f"{name}.parquet", report.parquet(teams), "application/vnd.apache.parquet")
    return message


def _claim(sub: ReportSubscription, period: Period) -> ReportDelivery | None:
    try:
        with transaction.atomic():
            return ReportDelivery.objects.create(subscription=sub, period_key=period.key)
    except IntegrityError:
        failed = ReportDelivery.objects.filter(
            subscription=sub, period_key=period.key, status=DeliveryStatus.FAILED
        )
        claim = failed.first()
        if claim and failed.filter(pk=claim.pk).update(status=DeliveryStatus.CLAIMED):
            return claim
        return None


def send_scheduled(today: dt.date | None = None) -> int:
    """Send every active subscription its last complete week or month, once. Returns the
    number of emails sent."""
    today = today or timezone.now().date()
    sent = 0
    reports: dict[str, ChargebackReport] = {}
    for sub in ReportSubscription.objects.filter(active=True).prefetch_related("teams"):
        period = Period.previous(sub.frequency, today)
        claim = _claim(sub, period)
        if claim is None:
            continue
        if period.key not in reports:
            reports[period.key] = build_report(period)
        teams = [t.name for t in sub.teams.all()] or None
        error = deliver(
            report_email(reports[period.key], sub.recipient_list(), teams),
            kind=NotificationKind.CHARGEBACK,
            key=f"chargeback-report:{claim.pk}",
        )
        sent += int(_record(ReportDelivery, claim.pk, error))
    return sent
