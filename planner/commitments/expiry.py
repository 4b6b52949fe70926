"""Expiry alerts: each active rule emails its recipients once per commitment term, when the
term ends within the rule's number of days (or the commitment's own, or
``COMMITMENT_EXPIRY_ALERT_DAYS``). The claim is an :class:`ExpiryNotice` row inserted under a
unique constraint (rule, commitment, end date), as budget alerts claim an ``AlertSent``; a
failed send is recorded and retried by the next run. Email through the alerts app's
machinery (three templates, absolute links)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from planner.alerts.models import DeliveryStatus, NotificationKind
from planner.alerts.notify import _record, absolute, build_email, deliver
from planner.commitments.models import Commitment, ExpiryAlertRule, ExpiryNotice


def due(rule: ExpiryAlertRule, today: dt.date) -> list[Commitment]:
    """Commitments whose term ends within the rule's (or their own) alert days from today."""
    out = []
    for c in Commitment.objects.filter(period_end__gte=today).order_by("period_end"):
        days = rule.days_before if rule.days_before is not None else c.alert_days
        if (c.period_end - today).days <= days:
            out.append(c)
    return out


def _claim(rule: ExpiryAlertRule, c: Commitment) -> ExpiryNotice | None:
    try:
        with transaction.atomic():
            return ExpiryNotice.objects.create(rule=rule, commitment=c, period_end=c.period_end)
    except IntegrityError:
        reclaimed = ExpiryNotice.objects.filter(
            rule=rule, commitment=c, period_end=c.period_end, status=DeliveryStatus.FAILED
        )
        notice = reclaimed.first()
        if notice and reclaimed.filter(pk=notice.pk).update(status=DeliveryStatus.CLAIMED):
            return notice
        return None


def alert_expiring(today: dt.date | None = None) -> int:
    """Send every due, not yet announced expiry; returns the number of emails sent."""
    today = today or timezone.now().date()
    sent = 0
    for rule in ExpiryAlertRule.objects.filter(active=True):
        claimed = [(c, n) for c in due(rule, today) if (n := _claim(rule, c))]
        if not claimed:
            continue
        context = {
            "rule": rule,
            "today": today,
            "items": [{"c": c, "days_left": (c.period_end - today).days} for c, _ in claimed],
            "url": absolute(reverse("commitments")),
        }
        error = deliver(
            build_email("commitment_expiry", context, rule.recipient_list()),
            kind=NotificationKind.COMMITMENT,
            key="commitment-expiry:" + ",".join(str(n.pk) for _, n in claimed),
        )
        for _, notice in claimed:
            _record(ExpiryNotice, notice.pk, error)
        sent += int(error is None)
    return sent
