"""Budgets with frozen time: each threshold crossing emails once per period, even when the
evaluation runs twice or concurrently; forecast crossings send their own; a new period resets.
Spend and forecast are checked against hand calculations."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.db import connection

from planner.alerts.budgets import budget_status, evaluate_budget
from planner.alerts.models import AlertSent, Budget, BudgetPeriod, BudgetScope, period_bounds
from tests.planner.alerts.rollup_helpers import add_cost, add_daily

UTC = dt.UTC
D = dt.date


def freeze(day: dt.date, hour: int = 12):
    return time_machine.travel(
        dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC), tick=False
    )


def make_budget(service=None, amount="10000", actual=(50, 80, 100), forecast=(), **kw) -> Budget:
    return Budget.objects.create(
        name=kw.pop("name", "Chat monthly"),
        scope=BudgetScope.SERVICE if service else BudgetScope.TOTAL,
        service=service,
        amount_usd=Decimal(amount),
        actual_thresholds=list(actual),
        forecast_thresholds=list(forecast),
        recipients="finops@example.com, lead@example.com",
        **kw,
    )


def test_period_bounds():
    assert period_bounds("monthly", D(2026, 2, 14)) == (D(2026, 2, 1), D(2026, 2, 28), "2026-02")
    assert period_bounds("monthly", D(2026, 12, 31)) == (D(2026, 12, 1), D(2026, 12, 31), "2026-12")
    assert period_bounds("quarterly", D(2026, 3, 31)) == (D(2026, 1, 1), D(2026, 3, 31), "2026-Q1")
    assert period_bounds("quarterly", D(2026, 11, 5)) == (
        D(2026, 10, 1),
        D(2026, 12, 31),
        "2026-Q4",
    )
    assert period_bounds("yearly", D(2028, 2, 29)) == (D(2028, 1, 1), D(2028, 12, 31), "2028")
    with pytest.raises(ValueError, match="weekly"):
        period_bounds("weekly", D(2026, 1, 1))


def test_scopes_count_the_right_rows_and_exclude_credits(fleet):
    acct, chat, image = fleet["account"], fleet["chat"], fleet["image"]
    add_daily(acct, D(2026, 10, 1), D(2026, 10, 4), 100.0, service=chat)  # 400
    add_daily(acct, D(2026, 10, 1), D(2026, 10, 4), 30.0, service=image)  # 120
    add_daily(acct, D(2026, 10, 1), D(2026, 10, 4), 5.0)  # unallocated, 20
    add_cost(acct, D(2026, 10, 1), -50.0, category="Credit")  # not spend
    add_cost(acct, D(2026, 9, 30), 999.0, service=chat)  # previous period
    with freeze(D(2026, 10, 4)):
        assert budget_status(make_budget(chat)).spend_usd == pytest.approx(400.0)
        assert budget_status(make_budget(None, name="all")).spend_usd == pytest.approx(540.0)
        tag = Budget.objects.create(
            name="tag", scope=BudgetScope.TAG, tag_value="t-image", amount_usd=1
        )
        assert budget_status(tag).spend_usd == pytest.approx(120.0)
        acct_budget = Budget.objects.create(
            name="a", scope=BudgetScope.ACCOUNT, account=acct, amount_usd=1
        )
        assert budget_status(acct_budget).spend_usd == pytest.approx(540.0)
        quarter = make_budget(chat, name="q", period=BudgetPeriod.QUARTERLY)
        status = budget_status(quarter)
        assert (status.period_key, status.spend_usd) == ("2026-Q4", pytest.approx(400.0))


def test_short_history_forecast_is_the_run_rate(fleet):
    """5 days at $100: run rate $100/day × 26 remaining days + $500 = $3,100 (31 %)."""
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 5), 100.0, service=fleet["chat"])
    with freeze(D(2026, 10, 5)):
        status = budget_status(make_budget(fleet["chat"]))
    assert status.forecast_method == "run rate"
    assert status.spend_usd == pytest.approx(500.0)
    assert status.forecast_usd == pytest.approx(3100.0)
    assert status.forecast_pct == pytest.approx(31.0)


def test_forecast_crossing_sends_its_own_email(fleet, mailoutbox):
    """$400/day since Sep 1, budget $10,000, on Oct 19: spent 19 × 400 = $7,600 (76 %, below
    80 %); forecast 7,600 + 12 × 400 = $12,400 (124 %) crosses forecast 100 %."""
    chat = fleet["chat"]
    add_daily(fleet["account"], D(2026, 9, 1), D(2026, 10, 19), 400.0, service=chat)
    budget = make_budget(chat, actual=(80,), forecast=(100,))
    with freeze(D(2026, 10, 19)):
        status = budget_status(budget)
        assert status.forecast_method.startswith("naive; backtest 2026-")
        assert "WAPE 0.0 %" in status.forecast_method
        assert status.spend_usd == pytest.approx(7600.0)
        assert status.forecast_usd == pytest.approx(12400.0, rel=0.02)
        evaluate_budget(budget.pk)
        evaluate_budget(budget.pk)
    assert len(mailoutbox) == 1
    assert "forecast to reach 100%" in mailoutbox[0].subject
    assert "2026-10" in mailoutbox[0].subject
    assert "$12,4" in mailoutbox[0].body
    assert mailoutbox[0].to == ["finops@example.com", "lead@example.com"]
    # the next day spend reaches 80 %: the actual crossing has its own email, the forecast is not repeated
    add_cost(fleet["account"], D(2026, 10, 20), 400.0, service=chat)
    with freeze(D(2026, 10, 20)):
        evaluate_budget(budget.pk)
    assert len(mailoutbox) == 2
    assert "80% spent" in mailoutbox[1].subject
    kinds = sorted(AlertSent.objects.values_list("kind", "threshold", "status"))
    assert kinds == [("actual", 80, "sent"), ("forecast", 100, "sent")]


def test_new_month_resets(fleet, mailoutbox):
    chat = fleet["chat"]
    budget = make_budget(chat, actual=(80,))
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 25), 350.0, service=chat)  # 8,750
    with freeze(D(2026, 10, 25)):
        evaluate_budget(budget.pk)
    add_daily(fleet["account"], D(2026, 11, 1), D(2026, 11, 10), 350.0, service=chat)  # 3,500
    with freeze(D(2026, 11, 10)):
        evaluate_budget(budget.pk)
    assert len(mailoutbox) == 1  # October only; November is at 35 %
    add_daily(fleet["account"], D(2026, 11, 11), D(2026, 11, 24), 350.0, service=chat)  # 8,400
    with freeze(D(2026, 11, 24)):
        evaluate_budget(budget.pk)
        evaluate_budget(budget.pk)
    assert [m.subject.split(" for ")[-1] for m in mailoutbox] == ["2026-10", "2026-11"]
    assert list(
        AlertSent.objects.order_by("period_key").values_list("period_key", "spend_usd")
    ) == [
        ("2026-10", Decimal("8750.00")),
        ("2026-11", Decimal("8400.00")),
    ]


def test_jump_over_several_thresholds_sends_one_email(fleet, mailoutbox):
    add_daily(
        fleet["account"], D(2026, 10, 1), D(2026, 10, 3), 3500.0, service=fleet["chat"]
    )  # 105 %
    budget = make_budget(fleet["chat"])
    with freeze(D(2026, 10, 3)):
        assert evaluate_budget(budget.pk) != []
    assert len(mailoutbox) == 1 and "100% spent" in mailoutbox[0].subject
    assert dict(AlertSent.objects.values_list("threshold", "status")) == {
        50: "superseded",
        80: "superseded",
        100: "sent",
    }


def test_failed_send_is_retried_by_the_next_evaluation(fleet, settings, mailoutbox):
    add_daily(
        fleet["account"], D(2026, 10, 1), D(2026, 10, 9), 1000.0, service=fleet["chat"]
    )  # 90 %
    budget = make_budget(fleet["chat"], actual=(80,))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
        "127.0.0.1",
        9,
        2,
    )  # nothing listens
    with freeze(D(2026, 10, 9)):
        assert evaluate_budget(budget.pk) == []
        alert = AlertSent.objects.get()
        assert alert.status == "failed" and "Error" in alert.error
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert evaluate_budget(budget.pk) == [alert.pk]
        assert evaluate_budget(budget.pk) == []
    assert len(mail.outbox) == 1
    assert AlertSent.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
def test_crossing_80_sends_exactly_one_email_under_concurrent_evaluation(fleet, mailoutbox):
    """Two evaluations race (two threads, two database connections): on PostgreSQL the unique
    constraint on AlertSent lets only one of them claim the 80 % crossing; on SQLite (one writer
    at a time) the evaluations take turns (`planner.core.sqlite_writes`) and the second finds the
    claim already made — the same guarantee, and no raw "database table is locked"."""
    chat = fleet["chat"]
    budget = make_budget(chat)
    add_daily(
        fleet["account"], D(2026, 10, 1), D(2026, 10, 10), 600.0, service=chat
    )  # 6,000 = 60 %
    with freeze(D(2026, 10, 14)):
        evaluate_budget(budget.pk)
        assert [m.subject for m in mailoutbox] == [
            "[Headroom] Budget Chat monthly: 50% spent for 2026-10"
        ]
        add_daily(fleet["account"], D(2026, 10, 11), D(2026, 10, 14), 600.0, service=chat)  # 84 %
        barrier = threading.Barrier(2)
        results, errors = [], []

        def run():
            try:
                barrier.wait(timeout=10)
                results.append(evaluate_budget(budget.pk))
            except Exception as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 1]
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "[Headroom] Budget Chat monthly: 80% spent for 2026-10"
    assert "$8,400.00" in mailoutbox[1].body and "84.0%" in mailoutbox[1].body
    assert AlertSent.objects.filter(threshold=80).count() == 1
