"""Anomaly and budget pages through the real URLconf, templates and roles."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from planner.alerts.detection import detect_cost_anomalies
from planner.alerts.models import Anomaly, Budget
from tests.planner.alerts.rollup_helpers import add_daily

pytestmark = pytest.mark.django_db


@pytest.fixture
def stray(demo_fleet):
    detect_cost_anomalies()
    return Anomaly.objects.get(series_key="cost:service=unallocated", start=dt.date(2026, 9, 22))


def test_anomalies_page_shows_chart_and_root_cause(viewer_client, stray):
    response = viewer_client.get(reverse("anomalies"), {"id": stray.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="table-anomalies"' in html and "Unallocated spend" in html
    assert 'id="table-root-cause"' in html and "p4d.24xlarge" in html
    assert "Most likely cause: <strong>sku p4d.24xlarge</strong>" in html
    figure = json.loads(response.context["chart"])
    names = [trace.get("name") for trace in figure["data"]]
    assert {"Expected band", "Expected", "Actual"} <= set(names)
    trace = {t["name"]: t for t in figure["data"] if t.get("name")}
    first = trace["Actual"]["x"].index("2026-09-22")
    episode = slice(first, first + stray.days)
    assert sum(trace["Actual"]["y"][episode]) == pytest.approx(float(stray.actual_usd), abs=0.05)
    assert sum(trace["Expected"]["y"][episode]) == pytest.approx(
        float(stray.expected_usd), abs=0.05
    )
    assert trace["Actual"]["y"][first] > trace["Expected band"]["y"][first]
    assert 'data-figure="' in html and 'id="chart-anomaly"' in html
    assert 'value="acknowledged"' not in html  # viewers get no buttons


def test_detail_page_and_status_changes(viewer_client, client, analyst, stray):
    url = reverse("anomaly-status", args=[stray.pk])
    assert viewer_client.post(url, {"status": "acknowledged"}).status_code == 403
    client.force_login(analyst)
    page = client.get(reverse("anomaly-detail", args=[stray.pk]))
    assert page.status_code == 200 and b"Acknowledge" in page.content
    response = client.post(url, {"status": "acknowledged", "note": "experiment, owner told"})
    assert response.status_code == 302
    stray.refresh_from_db()
    assert (stray.status, stray.note, stray.status_changed_by) == (
        "acknowledged",
        "experiment, owner told",
        analyst,
    )
    client.post(url, {"status": "resolved", "next": "https://evil.example.com/"})
    stray.refresh_from_db()
    assert stray.status == "resolved"
    listed = client.get(reverse("anomalies")).context["page"].object_list
    assert stray not in listed and len(listed) == Anomaly.objects.exclude(status="resolved").count()
    # a resolved episode stays resolved when detection runs again
    assert detect_cost_anomalies() == []
    stray.refresh_from_db()
    assert stray.status == "resolved"


def test_budget_pages(analyst_client, fleet):
    add_daily(
        fleet["account"], dt.date(2026, 10, 1), dt.date(2026, 10, 5), 200.0, service=fleet["chat"]
    )
    form = {
        "name": "Chat October",
        "scope": "service",
        "service": fleet["chat"].pk,
        "period": "monthly",
        "amount_usd": "5000",
        "actual_thresholds": "50, 80,100%",
        "forecast_thresholds": "100",
        "recipients": "a@example.com, b@example.com",
        "webhook_url": "",
        "active": "on",
    }
    response = analyst_client.post(reverse("budget-create"), form)
    assert response.status_code == 302, response.content
    budget = Budget.objects.get()
    assert budget.actual_thresholds == [50, 80, 100] and budget.amount_usd == Decimal("5000")
    bad = analyst_client.post(
        reverse("budget-create"), {**form, "scope": "account", "actual_thresholds": "80x"}
    )
    assert bad.status_code == 200
    assert "not a whole percentage" in bad.content.decode()
    assert "Required when the scope is account" in bad.content.decode()
    import time_machine

    with time_machine.travel(dt.datetime(2026, 10, 5, 12, tzinfo=dt.UTC), tick=False):
        listing = analyst_client.get(reverse("budgets")).content.decode()
        detail = analyst_client.get(reverse("budget-detail", args=[budget.pk]))
    assert "Chat October" in listing and "20%" in listing  # 1,000 of 5,000
    assert detail.status_code == 200 and 'id="chart-budget"' in detail.content.decode()
    assert detail.context["status"].spend_usd == pytest.approx(1000.0)


def test_viewers_cannot_create_budgets(viewer_client):
    assert viewer_client.get(reverse("budget-create")).status_code == 403
    assert viewer_client.get(reverse("budgets")).status_code == 200


def test_anomaly_alert_settings_page(viewer_client, client, analyst):
    url = reverse("anomaly-subscriptions")
    data = {
        "name": "FinOps",
        "recipients": "a@example.com; b@example.com",
        "mode": "daily",
        "min_impact_usd": "250",
        "webhook_url": "",
        "active": "on",
    }
    assert viewer_client.get(url).status_code == 200
    assert viewer_client.post(url, data).status_code == 403
    client.force_login(analyst)
    assert client.post(url, {**data, "recipients": "not-an-email"}).status_code == 200
    assert client.post(url, data).status_code == 302
    from planner.alerts.models import AnomalySubscription

    sub = AnomalySubscription.objects.get()
    assert (sub.recipient_list(), sub.mode, sub.min_impact_usd) == (
        ["a@example.com", "b@example.com"],
        "daily",
        Decimal("250"),
    )
    page = client.get(url, {"edit": sub.pk}).content.decode()
    assert "Edit FinOps" in page and "Daily digest" in page


def test_bad_query_parameters_are_ignored(viewer_client):
    assert (
        viewer_client.get(
            reverse("anomalies"), {"id": "x'", "page": "zz", "status": "?"}
        ).status_code
        == 200
    )
    assert (
        viewer_client.get(reverse("anomaly-subscriptions"), {"edit": "1 OR 1"}).status_code == 200
    )
