"""The demo budgets tell three stories on the demo fleet every test database starts with (45 days
to 2026-10-01): on track (no email), forecast to exceed (forecast email), already over (actual
email); across total, service and tag scopes; the emails are recorded in the notification log by
the real evaluation. Spend is checked against an independent sum over CostRollup."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine
from django.db.models import Sum

from planner.alerts.budgets import budget_status
from planner.alerts.demo import seed_demo_budgets
from planner.alerts.models import AlertSent, Budget, Notification, period_bounds
from planner.billing.models import CostRollup
from tests.demo_costs import pool_cost


def travel(day: dt.date):
    return time_machine.travel(
        dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC), tick=False
    )


def spend_by_hand(budget: Budget, today: dt.date) -> Decimal:
    """Effective cost of the budget's scope in its period up to today, credits excluded."""
    start, _, _ = period_bounds(budget.period, today)
    rows = CostRollup.objects.filter(date__gte=start, date__lte=today).exclude(
        charge_category="Credit"
    )
    if budget.scope == "service":  # its tagged rows plus its node pool's share
        tagged = rows.filter(service_id=budget.service_id).aggregate(v=Sum("effective_cost"))["v"]
        return (tagged or Decimal(0)) + pool_cost(budget.service.slug, start, today)
    if budget.scope == "tag":
        rows = rows.filter(service_tag=budget.tag_value)
    return rows.aggregate(v=Sum("effective_cost"))["v"] or Decimal(0)


def stories(today: dt.date, mailoutbox) -> dict:
    with travel(today):
        results = seed_demo_budgets()
        statuses = {r.story: (r, budget_status(r.budget)) for r in results}
    assert set(statuses) == {"on track", "forecast to exceed", "already over"}
    assert {r.budget.scope for r, _ in statuses.values()} == {"total", "service", "tag"}
    for result, status in statuses.values():
        by_hand = spend_by_hand(result.budget, today)
        assert abs(Decimal(f"{status.spend_usd:.2f}") - by_hand) < Decimal("0.01")
    return statuses


def test_demo_budget_stories_mid_month(demo_fleet, mailoutbox):
    today = dt.date(2026, 9, 20)
    s = stories(today, mailoutbox)

    on_track, st = s["on track"]
    assert st.spend_pct < 50 and st.forecast_pct <= 80
    assert on_track.alert_ids == [] and not on_track.budget.alerts.exists()

    forecast, st = s["forecast to exceed"]
    assert forecast.budget.scope == "service" and forecast.budget.period == "monthly"
    assert st.spend_pct < 100 <= st.forecast_pct
    sent = AlertSent.objects.get(budget=forecast.budget, kind="forecast")
    assert (sent.threshold, sent.status) == (100, "sent") and sent.pk in forecast.alert_ids
    # two thirds into the month it may also have passed an actual threshold, never 100 %
    assert not AlertSent.objects.filter(budget=forecast.budget, kind="actual", threshold=100)

    over, st = s["already over"]
    assert over.budget.scope == "tag" and over.budget.tag_value != forecast.budget.service.tag_value
    assert st.spend_pct >= 100
    actual = AlertSent.objects.get(budget=over.budget, kind="actual", status="sent")
    assert actual.threshold == 100  # 50 and 80 crossed together: one email, for the highest
    assert set(
        AlertSent.objects.filter(budget=over.budget, kind="actual").values_list("status", flat=True)
    ) == {"sent", "superseded"}

    # Every email went through the mail backend and into the notification log, one row each.
    emailed = forecast.alert_ids + over.alert_ids
    assert len(mailoutbox) == len(emailed) == Notification.objects.count()
    for message in mailoutbox:
        row = Notification.objects.get(subject=message.subject)
        assert row.status == "sent" and row.backend == "locmem" and row.attempts == 1
        assert (
            row.recipients == message.to == ["finops@example.com", "ml-platform-leads@example.com"]
        )
        assert row.budget_alert_id in emailed and row.budget_id == row.budget_alert.budget_id
    assert any("forecast to reach 100% for 2026-09" in m.subject for m in mailoutbox)


def test_demo_budget_seeding_is_idempotent(demo_fleet, mailoutbox):
    today = dt.date(2026, 9, 20)
    stories(today, mailoutbox)
    amounts = dict(Budget.objects.values_list("name", "amount_usd"))
    emails = len(mailoutbox)
    with travel(today):
        again = seed_demo_budgets()
    assert all(r.alert_ids == [] for r in again)
    assert len(mailoutbox) == emails and Notification.objects.count() == emails
    assert dict(Budget.objects.values_list("name", "amount_usd")) == amounts


def test_demo_budget_stories_hold_before_the_month_has_data(demo_fleet, mailoutbox):
    """On the demo's last day + 1 (`make run` on the 1st of a month) the month has no spend yet:
    the over-budget moves to the period most covered by data, the forecast one still forecasts."""
    today = dt.date(2026, 10, 1)  # data ends 2026-09-30
    s = stories(today, mailoutbox)
    _, st = s["forecast to exceed"]
    assert st.spend_usd == 0 and st.forecast_pct >= 100
    over, st = s["already over"]
    assert over.budget.period == "yearly" and st.spend_pct >= 100  # Q4 has no data either
    assert s["on track"][1].forecast_pct <= 80
    assert len(mailoutbox) == Notification.objects.count() == 3


def test_demo_budget_make_run_on_an_older_database_adds_them(demo_fleet, mailoutbox):
    """`make run` runs `seed_demo --if-empty`: a database whose demo fleet predates the demo
    budgets gets them (once); one that has budgets is left alone."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with travel(dt.date(2026, 9, 20)):
        call_command("seed_demo", "--if-empty", stdout=out)
        assert Budget.objects.count() == 3
        assert "budgets: Fleet total (monthly) on track" in out.getvalue()
        emails = len(mailoutbox)
        call_command("seed_demo", "--if-empty", stdout=StringIO())
    assert Budget.objects.count() == 3 and len(mailoutbox) == emails > 0


def test_demo_budget_seeding_also_shows_an_anomaly_alert_and_a_digest(demo_fleet, mailoutbox):
    from planner.alerts.demo import seed_demo_anomaly_emails
    from planner.alerts.detection import detect_cost_anomalies

    with travel(dt.date(2026, 10, 1)):
        detect_cost_anomalies()
        sent = seed_demo_anomaly_emails()
        assert seed_demo_anomaly_emails() == 0  # each anomaly is announced once
    kinds = sorted(Notification.objects.values_list("kind", flat=True))
    assert sent == len(mailoutbox) == len(kinds) and {"anomaly", "digest"} <= set(kinds)
    assert kinds.count("digest") == 1 and all(
        s == "sent" for s in Notification.objects.values_list("status", flat=True)
    )


def test_demo_budget_reseed_on_another_day_replaces_only_demo_budgets(
    demo_fleet, mailoutbox, analyst
):
    mine = Budget.objects.create(
        name="Mine",
        amount_usd=5,
        recipients="finops@example.com, ml-platform-leads@example.com",
        created_by=analyst,
    )
    stories(dt.date(2026, 9, 20), mailoutbox)  # the over budget is monthly here
    stories(dt.date(2026, 10, 1), mailoutbox)  # and yearly here
    names = set(Budget.objects.values_list("name", flat=True))
    assert len(names) == 4 and "Mine" in names and Budget.objects.get(pk=mine.pk).amount_usd == 5
