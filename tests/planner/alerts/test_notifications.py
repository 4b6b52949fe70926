"""The notification log and page: every email and webhook attempt is one row per message with
its status and retries; the page shows the email as the recipient got it (HTML with its inline
chart, and text) to analysts and admins, subjects only to viewers; the chart PNG puts the budget
line and the spend where the geometry says."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
import time_machine
from django.urls import reverse

from planner.alerts import email_chart
from planner.alerts.budgets import evaluate_budget
from planner.alerts.models import AlertSent, Budget, BudgetScope, Notification
from planner.alerts.notification_log import rendered_email
from tests.planner.alerts.rollup_helpers import add_daily
from tests.planner.alerts.test_alerts_delivery import FlakyWebhook, webhook_server  # noqa: F401

D = dt.date


def freeze(day: dt.date):
    return time_machine.travel(
        dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC), tick=False
    )


def chat_budget(fleet, **kw) -> Budget:
    return Budget.objects.create(
        name="Chat <prod>",
        scope=BudgetScope.SERVICE,
        service=fleet["chat"],
        amount_usd=10000,
        actual_thresholds=[80],
        forecast_thresholds=[],
        recipients="finops@example.com, lead@example.com",
        **kw,
    )


def test_notification_log_keeps_the_email_as_sent(fleet, mailoutbox, settings):
    settings.SITE_URL = "https://headroom.example.com"
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 17), 500.0, service=fleet["chat"])
    budget = chat_budget(fleet)
    with freeze(D(2026, 10, 17)):
        evaluate_budget(budget.pk)
    (message,) = mailoutbox
    row = Notification.objects.get()
    assert (row.channel, row.kind, row.status, row.attempts, row.retries) == (
        "email",
        "budget",
        "sent",
        1,
        0,
    )
    assert row.subject == message.subject == "[Headroom] Budget Chat <prod>: 80% spent for 2026-10"
    assert row.recipients == message.to == ["finops@example.com", "lead@example.com"]
    assert row.budget_id == budget.pk and row.budget_alert == AlertSent.objects.get()
    assert row.backend == "locmem" and row.sent_at is not None

    shown = rendered_email(row)
    assert shown.text == message.body and "Spent so far:         $8,500.00 (85.0%)" in shown.text
    assert shown.headers["Subject"] == message.subject
    assert "https://headroom.example.com/notifications/" in shown.text
    # The HTML's chart is the attached PNG, inlined as a data: URL for the preview.
    assert "cid:" not in shown.html and 'src="data:image/png;base64,' in shown.html
    (png_type, png) = shown.images["budget-chart"]
    assert png_type == "image/png"
    assert email_chart.decode_png(png).shape == (email_chart.HEIGHT_PX, email_chart.WIDTH_PX, 3)
    assert "Oct 1 – Oct 31, 2026" in shown.html  # non-ASCII survives the round trip
    assert 'id="email-spend" data-value="8500.00"' in shown.html


def test_notification_failed_email_is_retried_on_the_same_row(fleet, settings, mailoutbox):
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 9), 1000.0, service=fleet["chat"])
    budget = chat_budget(fleet)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with freeze(D(2026, 10, 9)):
        evaluate_budget(budget.pk)
        row = Notification.objects.get()
        assert (row.status, row.attempts, row.backend) == ("failed", 1, "smtp")
        assert "Error" in row.error and row.sent_at is None
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        evaluate_budget(budget.pk)
    row = Notification.objects.get()  # the same message: one row, second attempt
    assert (row.status, row.attempts, row.retries, row.error) == ("sent", 2, 1, "")
    assert len(mailoutbox) == 1


def test_notification_webhook_attempts_are_logged_without_the_token(
    fleet,
    webhook_server,  # noqa: F811 - the fixture imported above
    monkeypatch,
    django_capture_on_commit_callbacks,
    mailoutbox,  # noqa: F811
):
    from planner.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 10), 1000.0, service=fleet["chat"])
    budget = chat_budget(fleet, webhook_url=f"{webhook_server}/services/T0/B0/s3cr3t")
    with freeze(D(2026, 10, 10)), django_capture_on_commit_callbacks(execute=True):
        evaluate_budget(budget.pk)
    assert len(FlakyWebhook.received) == 2  # 503, then 200 on the retry
    hook = Notification.objects.get(channel="webhook")
    assert (hook.kind, hook.status, hook.attempts, hook.retries) == ("budget", "sent", 2, 1)
    assert hook.recipients == [f"{webhook_server}/…"]
    assert hook.text_body == FlakyWebhook.received[-1][1]["text"]
    assert "s3cr3t" not in str(Notification.objects.values_list())
    assert Notification.objects.filter(channel="email", status="sent").count() == 1


def test_notification_page_shows_analysts_the_email_and_viewers_subjects_only(
    fleet, client, viewer, analyst, mailoutbox
):
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 17), 500.0, service=fleet["chat"])
    with freeze(D(2026, 10, 17)):
        evaluate_budget(chat_budget(fleet).pk)
    row = Notification.objects.get()
    detail = reverse("notification-detail", args=[row.pk])

    client.force_login(viewer)
    page = client.get(reverse("notifications")).content.decode()
    assert "Chat &lt;prod&gt;: 80% spent" in page
    assert "finops@example.com" not in page and detail not in page
    assert client.get(detail).status_code == 403

    client.force_login(analyst)
    page = client.get(reverse("notifications")).content.decode()
    assert "finops@example.com, lead@example.com" in page and detail in page
    page = client.get(detail).content.decode()
    frame = re.search(r'<iframe id="email-html"[^>]*sandbox="([^"]*)"[^>]*srcdoc="([^"]*)"', page)
    assert frame is not None and "allow-scripts" not in frame.group(1)
    srcdoc = html_lib.unescape(frame.group(2))
    assert 'data-value="8500.00"' in srcdoc and 'src="data:image/png;base64,' in srcdoc
    assert "Spent so far:         $8,500.00 (85.0%)" in html_lib.unescape(page)
    assert (
        client.get(reverse("notifications") + "?status=failed")
        .content.decode()
        .count('id="notification-')
        == 0
    )


def test_notification_chart_png_geometry():
    """The budget line and the last day's cumulative spend are drawn where PlotFrame puts them."""
    daily = [400.0] * 10  # 4,000 by day 10 of a 30-day period
    png = email_chart.budget_burn_png(daily, D(2026, 9, 1), D(2026, 9, 30), 10000.0, 12000.0)
    pixels = email_chart.decode_png(png).astype(int)
    frame = email_chart.budget_burn_frame(daily, 30, 10000.0, 12000.0)
    assert frame.y_max_usd == pytest.approx(12000 * 1.12)
    red = (pixels[:, :, 0] > 180) & (pixels[:, :, 1] < 90) & (pixels[:, :, 2] < 90)
    rows = red[:, int(frame.x(20))].nonzero()[0]  # right of the spend, under no other line
    assert abs(rows.mean() - frame.y(10000.0)) < 1.0
    # In the column of day 5 the filled area starts at the cumulative spend (2,400 USD).
    column = pixels[:, int(frame.x(5))]
    fill = (abs(column - email_chart.SPEND_FILL).sum(axis=1) < 12).nonzero()[0]
    assert abs(fill.min() - frame.y(2400.0)) < 4.0 and abs(fill.max() - frame.y(0)) < 2.0


def test_first_run_hint_dismissal_is_remembered_per_user(demo_fleet, client, viewer, analyst):
    client.force_login(viewer)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'id="first-run-hint"' in page and "demo fleet" in page
    for name in ("budgets", "notifications", "anomalies", "whatif"):
        assert f'href="{reverse(name)}"' in page
    url = reverse("dismiss-hint", args=["first-run"])
    assert client.get(url).status_code == 405
    assert client.post(reverse("dismiss-hint", args=["nope"])).status_code == 404
    assert client.post(url, {"next": "https://evil.example/"}).url == reverse("dashboard")
    assert client.post(url).status_code == 302  # twice is fine
    assert 'id="first-run-hint"' not in client.get(reverse("dashboard")).content.decode()
    client.force_login(analyst)  # another user still sees it
    assert 'id="first-run-hint"' in client.get(reverse("dashboard")).content.decode()


def test_notification_of_an_anomaly_carries_its_sparkline(demo_fleet, mailoutbox, settings):
    from planner.alerts.detection import detect_cost_anomalies
    from planner.alerts.models import AnomalySubscription
    from planner.alerts.notify import SPARKLINE_DAYS_BEFORE, notify_new_anomalies

    AnomalySubscription.objects.create(
        name="FinOps", recipients="finops@example.com", min_impact_usd=0
    )
    with freeze(D(2026, 10, 1)):
        notify_new_anomalies(detect_cost_anomalies())
    rows = Notification.objects.filter(kind="anomaly")
    assert rows.count() == len(mailoutbox) >= 3
    row = rows.filter(anomaly__isnull=False).order_by("-anomaly__impact_usd").first()
    shown = rendered_email(row)
    (png_type, png) = shown.images["anomaly-chart"]
    pixels = email_chart.decode_png(png).astype(int)
    assert pixels.shape == (email_chart.SPARK_HEIGHT_PX, email_chart.WIDTH_PX, 3)
    # the episode's first day is drawn in the red band, the days before it are not
    days = SPARKLINE_DAYS_BEFORE + row.anomaly.days
    frame = email_chart.PlotFrame(days=days, y_max_usd=1, height_px=email_chart.SPARK_HEIGHT_PX)
    shaded = lambda x: (abs(pixels[:, int(x)] - email_chart.EPISODE_FILL).sum(axis=1) < 12).any()  # noqa: E731
    assert shaded(frame.x(SPARKLINE_DAYS_BEFORE)) and not shaded(frame.x(SPARKLINE_DAYS_BEFORE - 3))
    assert 'src="data:image/png;base64,' in shown.html and row.anomaly.series_label in shown.html
