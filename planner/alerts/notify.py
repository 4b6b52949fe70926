"""Alert emails (three templates each: subject, text, html) and webhook messages.

Every send follows a claim (an AlertSent or AnomalyNotice row inserted under a unique
constraint), then records the outcome on that row: sent, or failed with the error so the
next evaluation retries it. Links are absolute, built from settings.SITE_URL.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from planner.alerts.models import (
    AlertKind,
    AlertSent,
    Anomaly,
    AnomalyNotice,
    AnomalySubscription,
    Budget,
    DeliveryStatus,
    DigestMode,
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


def build_email(name: str, context: dict, recipients: list[str]) -> EmailMultiAlternatives:
    subject, text, html = render_email(name, {"site_url": settings.SITE_URL, **context})
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, recipients)
    message.attach_alternative(html, "text/html")
    return message


def deliver(message: EmailMultiAlternatives) -> Exception | None:
    """Send; return the delivery error (SMTP or network) instead of raising it."""
    try:
        message.send(fail_silently=False)
    except SEND_ERRORS as exc:
        return exc
    return None


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
def send_budget_alert(alert: AlertSent, budget: Budget, status) -> bool:
    """Email (and webhook) one claimed crossing. Returns True when the email went out."""
    context = {
        "budget": budget,
        "alert": alert,
        "status": status,
        "is_forecast": alert.kind == AlertKind.FORECAST,
        "url": absolute(reverse("budget-detail", args=[budget.pk])),
    }
    recipients = budget.recipient_list()
    error = deliver(build_email("budget", context, recipients)) if recipients else None
    if error is None and budget.webhook_url:
        what = "forecast to reach" if context["is_forecast"] else "has reached"
        queue_webhook("budget", budget.pk,
                      f"Budget *{budget.name}* {what} {alert.threshold}% for {status.period_key}: "
                      f"${status.spend_usd:,.0f} spent, ${status.forecast_usd:,.0f} forecast of "
                      f"${status.amount_usd:,.0f}. {context['url']}")  # fmt: skip
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
            error = deliver(build_email("anomaly", _anomaly_context(anomaly), sub.recipient_list()))
            if _record(AnomalyNotice, notice.pk, error):
                sent += 1
                if sub.webhook_url:
                    queue_webhook("subscription", sub.pk,
                                  f"Cost anomaly on {anomaly.series_label} from {anomaly.start}: "
                                  f"${anomaly.impact_usd:,.0f} vs expected. {_anomaly_context(anomaly)['url']}")  # fmt: skip
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
        error = deliver(build_email("digest", context, sub.recipient_list()))
        for _, notice in claimed:
            _record(AnomalyNotice, notice.pk, error)
        if error is None:
            sent += 1
            if sub.webhook_url:
                queue_webhook("subscription", sub.pk,
                              f"{len(anomalies)} cost anomalies today, ${context['total_impact_usd']:,.0f} "
                              f"above expected. {context['url']}")  # fmt: skip
    return sent
