"""Alert emails (three templates each: subject, text, html) and webhook messages.

Every send follows a claim (an AlertSent or AnomalyNotice row inserted under a unique
constraint), then records the outcome on that row: sent, or failed with the error so the
next evaluation retries it. Every attempt is also written to the Notification log (the message as
handed to the mail backend; see notification_log.py), which the notifications page shows.
Links are absolute, built from settings.SITE_URL. Budget emails carry a PNG of spend against the
budget, attached inline (``cid:budget-chart``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import logging
import smtplib
from email.mime.image import MIMEImage

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from planner.alerts import notification_log
from planner.alerts.models import (
    AlertKind,
    AlertSent,
    Anomaly,
    AnomalyNotice,
    AnomalySubscription,
    Budget,
    DeliveryStatus,
    DigestMode,
    NotificationKind,
)

log = logging.getLogger(__name__)
DIGEST_LOOKBACK_DAYS = 7  # a digest covers anomalies detected at most this long ago
NOTIFY_WITHIN_DAYS = 30  # never announce episodes that ended longer ago (history backfills)
# Delivery failures worth recording and retrying; anything else (a template bug) is raised.
SEND_ERRORS = (smtplib.SMTPException, OSError)


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/alerts/email/{name}_subject.txt, _body.txt, _body.html."""
    subject = render_to_string(f"alerts/email/{name}_subject.txt", context)
    subject = " ".join(subject.split())  # one line, no header injection through new lines
    text = render_to_string(f"alerts/email/{name}_body.txt", context)
    html = render_to_string(f"alerts/email/{name}_body.html", context)
    return subject, text, html


def build_email(
    name: str, context: dict, recipients: list[str], images: dict[str, bytes] | None = None
) -> EmailMultiAlternatives:
    """The email with a text body, an HTML alternative and `images` (Content-ID -> PNG bytes)
    attached inline for the HTML's ``cid:`` references (multipart/related)."""
    context = {
        "site_url": settings.SITE_URL,
        "notifications_url": absolute(reverse("notifications")),
        **context,
    }
    subject, text, html = render_email(name, context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, recipients)
    message.attach_alternative(html, "text/html")
    for cid, png in (images or {}).items():
        image = MIMEImage(png, "png")
        image.add_header("Content-ID", f"<{cid}>")
        image.add_header("Content-Disposition", "inline", filename=f"{cid}.png")
        message.attach(image)
    if images:
        message.mixed_subtype = "related"
    return message


# The mail connection deliveries use instead of settings.EMAIL_BACKEND (see `kept_mail`).
_connection: contextvars.ContextVar = contextvars.ContextVar("alert_mail_connection", default=None)


@contextlib.contextmanager
def kept_mail():
    """Within this block alert emails go to Django's in-memory backend (kept, never delivered):
    the demo seeding uses it, so its example.com recipients are never mailed and its emails are
    not printed over the `make run` output. Everything else (evaluation, claims, the log) is the
    real path; the log records the backend as 'locmem'."""
    token = _connection.set(get_connection("django.core.mail.backends.locmem.EmailBackend"))
    try:
        yield
    finally:
        _connection.reset(token)


def deliver(
    message: EmailMultiAlternatives, *, kind: str, key: str, links: dict | None = None
) -> Exception | None:
    """Send; return the delivery error (SMTP or network) instead of raising it. Every attempt is
    logged as Notification `key` (one row per message, attempts counted)."""
    if _connection.get() is not None:
        message.connection = _connection.get()
    error = None
    try:
        message.send(fail_silently=False)
    except SEND_ERRORS as exc:
        error = exc
    notification_log.record_email(message, kind=kind, key=key, error=error, links=links or {})
    return error


def queue_webhook(owner: str, owner_id: int, text: str) -> None:
    from planner.alerts.tasks import post_webhook

    transaction.on_commit(lambda: post_webhook.delay(owner, owner_id, text))


def _record(model, pk: int, error: Exception | None) -> bool:
    if error is None:
        model.objects.filter(pk=pk).update(
            status=DeliveryStatus.SENT, sent_at=timezone.now(), error=""
        )
        return True
    model.objects.filter(pk=pk).update(
        status=DeliveryStatus.FAILED, error=f"{type(error).__name__}: {error}"
    )
    log.warning("%s %s not sent: %s", model.__name__, pk, type(error).__name__)
    return False


# --- budgets ------------------------------------------------------------------------------
BUDGET_CHART_CID = "budget-chart"


def budget_chart_png(budget: Budget, status) -> bytes:
    """The budget email's chart: this period's cumulative spend, forecast and budget line."""
    from planner.alerts.email_chart import budget_burn_png
    from planner.alerts.series import daily_frame

    daily: list[float] = []
    if status.as_of:
        frame = daily_frame(budget.costs(), None, status.period_start, status.as_of)
        daily = frame["total"].tolist() if "total" in frame else [0.0] * len(frame.index)
    return budget_burn_png(
        daily, status.period_start, status.period_end, status.amount_usd, status.forecast_usd
    )


def send_budget_alert(alert: AlertSent, budget: Budget, status) -> bool:
    """Email (and webhook) one claimed crossing. Returns True when the email went out."""
    context = {
        "budget": budget,
        "alert": alert,
        "status": status,
        "is_forecast": alert.kind == AlertKind.FORECAST,
        "url": absolute(reverse("budget-detail", args=[budget.pk])),
        "chart_cid": BUDGET_CHART_CID,
    }
    recipients = budget.recipient_list()
    error = None
    if recipients:
        images = {BUDGET_CHART_CID: budget_chart_png(budget, status)}
        error = deliver(
            build_email("budget", context, recipients, images),
            kind=NotificationKind.BUDGET,
            key=f"budget-alert:{alert.pk}",
            links={"budget": budget, "budget_alert": alert},
        )
    if error is None and budget.webhook_url:
        what = "forecast to reach" if context["is_forecast"] else "has reached"
        queue_webhook(
            "budget",
            budget.pk,
            f"Budget *{budget.name}* {what} {alert.threshold}% for {status.period_key}: "
            f"${status.spend_usd:,.0f} spent, ${status.forecast_usd:,.0f} forecast of "
            f"${status.amount_usd:,.0f}. {context['url']}",
        )
    return _record(AlertSent, alert.pk, error)


# --- anomalies ----------------------------------------------------------------------------
def _matches(sub: AnomalySubscription, anomaly: Anomaly) -> bool:
    return abs(anomaly.impact_usd) >= sub.min_impact_usd


def _claim_notice(sub: AnomalySubscription, anomaly: Anomaly) -> AnomalyNotice | None:
    try:
        with transaction.atomic():
            return AnomalyNotice.objects.create(subscription=sub, anomaly=anomaly)
    except IntegrityError:
        return None


def _reclaim_failed_notices(sub: AnomalySubscription) -> list[tuple[Anomaly, AnomalyNotice]]:
    """Notices whose send failed earlier, taken back by exactly one caller (conditional update)."""
    out = []
    failed = AnomalyNotice.objects.filter(subscription=sub, status=DeliveryStatus.FAILED)
    for notice in failed.select_related("anomaly"):
        if AnomalyNotice.objects.filter(pk=notice.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.CLAIMED
        ):
            out.append((notice.anomaly, notice))
    return out


def _anomaly_context(anomaly: Anomaly) -> dict:
    return {"anomaly": anomaly, "url": absolute(reverse("anomaly-detail", args=[anomaly.pk]))}


ANOMALY_CHART_CID = "anomaly-chart"
SPARKLINE_DAYS_BEFORE = 28


def anomaly_sparkline_png(anomaly: Anomaly) -> bytes:
    """The anomaly email's chart: the series' daily cost from four weeks before the episode to
    its end, the episode in red."""
    from planner.alerts.email_chart import sparkline_png
    from planner.alerts.series import CostSeriesSpec, cost_series

    spec = CostSeriesSpec(anomaly.series_key, anomaly.series_label, anomaly.dimensions or {})
    first = anomaly.start - dt.timedelta(days=SPARKLINE_DAYS_BEFORE)
    series = cost_series(spec, first, anomaly.end)
    return sparkline_png(series.tolist(), (SPARKLINE_DAYS_BEFORE, len(series) - 1))


def notify_new_anomalies(anomaly_ids: list[int], today: dt.date | None = None) -> int:
    """Email each immediate subscription about each new anomaly it has not heard of (and retry
    earlier failed sends). Returns the number of emails sent."""
    today = today or timezone.now().date()
    recent = today - dt.timedelta(days=NOTIFY_WITHIN_DAYS)
    anomalies = list(Anomaly.objects.filter(pk__in=anomaly_ids, end__gte=recent).order_by("start"))
    sent = 0
    for sub in AnomalySubscription.objects.filter(active=True, mode=DigestMode.IMMEDIATE):
        work = _reclaim_failed_notices(sub)
        work += [(a, n) for a in anomalies if _matches(sub, a) and (n := _claim_notice(sub, a))]
        for anomaly, notice in work:
            context = {**_anomaly_context(anomaly), "chart_cid": ANOMALY_CHART_CID}
            chart = {ANOMALY_CHART_CID: anomaly_sparkline_png(anomaly)}
            message = build_email("anomaly", context, sub.recipient_list(), chart)
            error = deliver(
                message,
                kind=NotificationKind.ANOMALY,
                key=f"anomaly-notice:{notice.pk}",
                links={"subscription": sub, "anomaly": anomaly},
            )
            if _record(AnomalyNotice, notice.pk, error):
                sent += 1
                if sub.webhook_url:
                    queue_webhook(
                        "subscription",
                        sub.pk,
                        f"Cost anomaly on {anomaly.series_label} from {anomaly.start}: "
                        f"${anomaly.impact_usd:,.0f} vs expected. {_anomaly_context(anomaly)['url']}",
                    )
    return sent


def send_digests(now: dt.datetime | None = None) -> int:
    """One email per daily-digest subscription listing anomalies detected in the last
    DIGEST_LOOKBACK_DAYS it has not been told about. Returns the number of digests sent."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=DIGEST_LOOKBACK_DAYS)
    recent_end = now.date() - dt.timedelta(days=NOTIFY_WITHIN_DAYS)
    sent = 0
    for sub in AnomalySubscription.objects.filter(active=True, mode=DigestMode.DAILY):
        candidates = (
            Anomaly.objects.filter(detected_at__gte=since, end__gte=recent_end)
            .exclude(notices__subscription=sub)
            .order_by("-impact_usd")
        )
        claimed = _reclaim_failed_notices(sub)
        claimed += [(a, n) for a in candidates if _matches(sub, a) and (n := _claim_notice(sub, a))]
        if not claimed:
            continue
        anomalies = [a for a, _ in claimed]
        context = {
            "subscription": sub,
            "anomalies": [_anomaly_context(a) for a in anomalies],
            "total_impact_usd": sum(a.impact_usd for a in anomalies),
            "date": now.date(),
            "url": absolute(reverse("anomalies")),
        }
        notice_ids = ",".join(str(n.pk) for _, n in sorted(claimed, key=lambda c: c[1].pk))
        key = f"digest:{sub.pk}:{hashlib.sha1(notice_ids.encode()).hexdigest()}"
        error = deliver(
            build_email("digest", context, sub.recipient_list()),
            kind=NotificationKind.DIGEST,
            key=key,
            links={"subscription": sub},
        )
        for _, notice in claimed:
            _record(AnomalyNotice, notice.pk, error)
        if error is None:
            sent += 1
            if sub.webhook_url:
                queue_webhook(
                    "subscription",
                    sub.pk,
                    f"{len(anomalies)} cost anomalies today, ${context['total_impact_usd']:,.0f} "
                    f"above expected. {context['url']}",
                )
    return sent
