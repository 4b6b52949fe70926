"""On SQLite (the `make run` and newcomer `make test` default) a budget evaluation that meets a
locked database waits its turn and retries, and never shows the driver's raw "database table is
locked"; when the lock outlasts every retry it says what to do. PostgreSQL needs none of this
(its race is tested in test_alerts_budgets.py), so these tests run on SQLite only."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from django.db import connection, transaction

from planner.alerts.budgets import evaluate_budget
from planner.alerts.models import AlertSent, Budget
from planner.core import sqlite_writes
from planner.core.sqlite_writes import DatabaseBusy
from tests.planner.alerts.rollup_helpers import add_daily
from tests.planner.alerts.test_alerts_budgets import freeze, make_budget

D = dt.date
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite lock handling; PostgreSQL uses row locks (race tested elsewhere)")


def _hold_write_lock(budget_pk: int, seconds: float, started: threading.Event) -> threading.Thread:
    """Another connection (own thread) keeps a write transaction on the budgets table open."""

    def run():
        try:
            with transaction.atomic():
                Budget.objects.filter(pk=budget_pk).update(name="Chat monthly")
                started.set()
                threading.Event().wait(seconds)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_evaluation_waits_for_a_briefly_locked_sqlite_database(fleet, mailoutbox, caplog):
    budget = make_budget(fleet["chat"])
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 6), 1000.0, service=fleet["chat"])
    started = threading.Event()
    with freeze(D(2026, 10, 7)):
        holder = _hold_write_lock(budget.pk, 0.3, started)
        assert started.wait(10)
        with caplog.at_level(logging.INFO, logger="planner.core.sqlite_writes"):
            sent = evaluate_budget(budget.pk)
        holder.join(10)
    assert "SQLite locked (try 1)" in caplog.text  # it really met the lock and retried
    assert len(sent) == 1 and AlertSent.objects.get().threshold == 50
    assert [m.subject for m in mailoutbox] == [
        "[Headroom] Budget Chat monthly: 50% spent for 2026-10"
    ]


def test_evaluation_says_what_to_do_when_sqlite_stays_locked(fleet, mailoutbox, monkeypatch):
    monkeypatch.setattr(sqlite_writes, "RETRY_DELAYS_S", (0.01, 0.02))
    budget = make_budget(fleet["chat"])
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 6), 1000.0, service=fleet["chat"])
    started = threading.Event()
    with freeze(D(2026, 10, 7)):
        holder = _hold_write_lock(budget.pk, 1.0, started)
        assert started.wait(10)
        with pytest.raises(DatabaseBusy, match="one writer at a time.*PostgreSQL") as err:
            evaluate_budget(budget.pk)
        holder.join(10)
    assert "table is locked" not in str(err.value)
    assert mailoutbox == [] and not AlertSent.objects.exists()
    with freeze(D(2026, 10, 7)):  # once the lock is gone the same evaluation simply works
        assert len(evaluate_budget(budget.pk)) == 1
