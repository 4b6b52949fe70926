"""Anomaly alerts: immediate emails and the daily digest, each anomaly announced once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from planner.alerts import notify
from planner.alerts.detection import detect_cost_anomalies
from planner.alerts.models import Anomaly, AnomalyNotice, AnomalySubscription, DigestMode

pytestmark = pytest.mark.django_db
AFTER_DEMO = dt.datetime(2026, 10, 1, 7, tzinfo=dt.UTC)  # the morning after the demo's last day


def test_immediate_alerts_are_sent_once(demo_fleet, mailoutbox, settings):
    settings.SITE_URL = "https://headroom.example.com"
    sub = AnomalySubscription.objects.create(
        name="FinOps", recipients="finops@example.com", min_impact_usd=100
    )
    with time_machine.travel(AFTER_DEMO, tick=False):
        ids = detect_cost_anomalies()
        sent = notify.notify_new_anomalies(ids)
        assert notify.notify_new_anomalies(ids) == 0  # already announced
    expected = Anomaly.objects.filter(pk__in=ids, impact_usd__gte=100)
    # the untagged p4d and the egress spike; the runaway scale-out adds ~$40 on its day,
    # below this subscription's $100 minimum
    assert sent == expected.count() == len(mailoutbox) >= 2
    by_subject = {m.subject: m for m in mailoutbox}
    stray = Anomaly.objects.get(series_key="cost:service=unallocated", start=dt.date(2026, 9, 22))
    subject = f"[Headroom] Cost anomaly: Unallocated spend +${stray.impact_usd:.0f} from 2026-09-22"
    assert subject in by_subject
    message = by_subject[subject]
    assert "likely cause: sku p4d.24xlarge" in message.body
    assert f"https://headroom.example.com/anomalies/{stray.pk}/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "<strong>sku p4d.24xlarge</strong>" in html
    assert AnomalyNotice.objects.filter(subscription=sub, status="sent").count() == sent


def test_daily_digest_lists_new_anomalies_once(demo_fleet, mailoutbox):
    AnomalySubscription.objects.create(
        name="Digest", recipients="team@example.com", mode=DigestMode.DAILY, min_impact_usd=100
    )
    with time_machine.travel(AFTER_DEMO, tick=False):
        ids = detect_cost_anomalies()
        assert notify.notify_new_anomalies(ids) == 0  # digest subscribers get no immediate mail
        assert notify.send_digests() == 1
        assert notify.send_digests() == 0
    included = Anomaly.objects.filter(impact_usd__gte=100)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    total = sum(a.impact_usd for a in included)
    assert message.subject == (
        f"[Headroom] {included.count()} cost anomalies on 2026-10-01, +${total:.0f}"
    )
    for anomaly in included:
        assert f"{anomaly.series_label}, {anomaly.start:%Y-%m-%d}" in message.body


def test_old_episodes_are_not_announced(demo_fleet, mailoutbox):
    """Detection over a long history finds old episodes; announcing those would be noise."""
    AnomalySubscription.objects.create(name="FinOps", recipients="f@example.com", min_impact_usd=0)
    with time_machine.travel(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), tick=False):
        assert notify.notify_new_anomalies(detect_cost_anomalies()) == 0
    assert mailoutbox == []


def test_failed_anomaly_email_is_retried_once(demo_fleet, mailoutbox, settings):
    AnomalySubscription.objects.create(
        name="FinOps", recipients="f@example.com", min_impact_usd=500
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # refused
    with time_machine.travel(AFTER_DEMO, tick=False):
        ids = detect_cost_anomalies()
        assert notify.notify_new_anomalies(ids) == 0
        failed = AnomalyNotice.objects.filter(status="failed").count()
        assert failed == Anomaly.objects.filter(impact_usd__gte=500).count() >= 2
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert notify.notify_new_anomalies([]) == failed  # retried without new detections
        assert notify.notify_new_anomalies(ids) == 0
    assert len(mailoutbox) == failed
    assert not AnomalyNotice.objects.exclude(status="sent").exists()
