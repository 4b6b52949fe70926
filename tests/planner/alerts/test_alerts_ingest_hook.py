"""After a successful ingest, alerts run (signal → on_commit → Celery after_ingest): detection
and budget evaluation. A failed ingest triggers nothing."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import time_machine

from fixtures_gen.focus_files import write_focus_file
from planner.alerts.models import AlertSent, Budget, BudgetScope
from planner.billing import services
from planner.billing.models import RunSource, RunStatus
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_store(settings, tmp_path):
    settings.LINE_ITEM_STORE = str(tmp_path / "lineitems")


def test_successful_ingest_evaluates_budgets(
    tmp_path, mailoutbox, django_capture_on_commit_callbacks
):
    account = make_account(account_id="123456789012", name="Gen")
    Budget.objects.create(
        name="Everything",
        scope=BudgetScope.TOTAL,
        amount_usd=1,
        actual_thresholds=[100],
        forecast_thresholds=[],
        recipients="finops@example.com",
    )
    gen = write_focus_file(tmp_path / "oct.parquet", rows=1500, seed=3, start="2026-10-01")
    with (
        time_machine.travel(dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        failed = services.execute_focus_run(
            services.create_run(account, RunSource.FOCUS_FILE, str(tmp_path / "missing.csv")).pk
        )
        assert failed.status == RunStatus.FAILED
        assert mailoutbox == []
        run = services.execute_focus_run(
            services.create_run(account, RunSource.FOCUS_FILE, str(gen.path)).pk
        )
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "[Headroom] Budget Everything: 100% spent for 2026-10"
    # spend = effective cost of October's non-credit rows, computed from the file itself
    rows = pd.read_parquet(gen.path)
    october = pd.to_datetime(rows["ChargePeriodStart"], utc=True).dt.strftime("%Y-%m") == "2026-10"
    expected = rows.loc[october & (rows["ChargeCategory"] != "Credit"), "EffectiveCost"].sum()
    assert float(AlertSent.objects.get().spend_usd) == pytest.approx(expected, abs=0.01)
