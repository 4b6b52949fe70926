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
from planner.core import dashboard
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


def test_demo_service_budget_is_sized_from_the_attributed_cost_the_dashboard_shows(
    demo_fleet, mailoutbox
):
    """The forecast-to-exceed budget picks the service with the most spend in the dashboard's
    service table (shared-node cost attributed) and is sized on that service's figure: its spend
    so far is what the dashboard filtered to the service shows for the month (credits excluded,
    as budgets count spend), its amount between that and the forecast."""
    today, month_start = dt.date(2026, 9, 20), dt.date(2026, 9, 1)
    with travel(today):
        results = {r.story: r for r in seed_demo_budgets()}
        budget = results["forecast to exceed"].budget
        status = budget_status(budget)
    month = dashboard.DateRange(month_start, today)
    table = dashboard.by_dimension(dashboard.costs(month).spend(), "service__slug")
    top_slug, top_cost = next((label, cost) for label, cost in table if label != "(none)")
    assert budget.service.slug == top_slug
    shown = dashboard.costs(month, {"service": top_slug}).spend().total()
    assert shown == top_cost
    assert Decimal(f"{status.spend_usd:.2f}") == shown.quantize(Decimal("0.01"))
    # the dashboard's figure includes the service's share of its shared node pool
    assert pool_cost(top_slug, month_start, today) > 0
    assert status.spend_usd < float(budget.amount_usd) < status.forecast_usd


def test_demo_service_budget_follows_the_dashboard_when_shared_nodes_change_the_ranking(
    demo_fleet, mailoutbox
):
    """Untagged cost of the runner-up's node pool (a day it ran) makes it the top service on the
    dashboard while the tagged rows alone still rank the other first: the demo budget goes to
    the service the dashboard ranks first."""
    from planner.billing.models import CostRollup
    from planner.core.models import Deployment
    from planner.usage.models import UsageSample

    today, month_start = dt.date(2026, 9, 20), dt.date(2026, 9, 1)
    month = dashboard.DateRange(month_start, today)

    def ranking():
        table = dashboard.by_dimension(dashboard.costs(month).spend(), "service__slug")
        return [(label, cost) for label, cost in table if label != "(none)"]

    def tagged_top() -> str:
        rows = CostRollup.objects.filter(date__range=(month_start, today), service__isnull=False)
        rows = rows.exclude(charge_category="Credit").values("service__slug")
        return rows.annotate(v=Sum("effective_cost")).order_by("-v").first()["service__slug"]

    (first, first_cost), (second, second_cost) = ranking()[:2]
    assert tagged_top() == first
    dep = Deployment.objects.get(service__slug=second)
    ran = UsageSample.objects.filter(
        deployment=dep, replicas__gt=0, ts__date__range=(month_start, today)
    )
    day = ran.order_by("ts").values_list("ts", flat=True).first().date()
    extra = (first_cost - second_cost) + Decimal("1000")
    CostRollup.objects.create(
        date=day,
        account=dep.account,
        billing_period_start=day.replace(day=1),
        provider="AWS",
        region=dep.region,
        sku=dep.instance_type,
        instance_type=dep.instance_type,
        charge_category="Usage",
        billed_cost=extra,
        effective_cost=extra,
        list_cost=extra,
    )
    assert ranking()[0][0] == second and tagged_top() == first

    with travel(today):
        results = {r.story: r for r in seed_demo_budgets()}
    assert results["forecast to exceed"].budget.service.slug == second
