"""FOCUS files through the real loader: exact totals, idempotent re-load, atomic failure."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from fixtures_gen.focus_files import write_focus_file
from planner.billing import services
from planner.billing.loader import store
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun, RunSource, RunStatus
from tests.conftest import SHARED_DATA
from tests.factories import make_account

pytestmark = pytest.mark.django_db
SAMPLE = SHARED_DATA / "focus" / "focus_sample.csv"


@pytest.fixture(autouse=True)
def own_store(settings, tmp_path):
    settings.LINE_ITEM_STORE = str(tmp_path / "lineitems")


@pytest.fixture
def account():
    return make_account(account_id="1234567890123", name="Sample")


def snapshot(account):
    """Everything a reader could see for the account: rollup totals, pointers, line-item counts."""
    rollups = CostRollup.objects.filter(account=account).aggregate(
        billed=Sum("billed_cost"), eff=Sum("effective_cost"), n=Count("id"), items=Sum("line_items")
    )
    loads = list(
        BillingPeriodLoad.objects.filter(account=account).values_list(
            "billing_period_start", "version", "rows", "billed_cost"
        )
    )
    line_store = store()
    counts = [line_store.row_count(account.pk, p, v) for p, v, _, _ in loads]
    return rollups, loads, counts


def ingest(path, account) -> IngestRun:
    run = services.create_run(account, RunSource.FOCUS_FILE, str(path))
    return services.execute_focus_run(run.pk)


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared/data/focus/focus_sample.csv is not present")
def test_focus_sample_totals_match_the_file_to_the_cent(account, settings):
    settings.IMPORT_DIR = SAMPLE.parent  # the shared data directory is this test's import dir
    raw = pd.read_csv(SAMPLE, na_values=["NULL"], keep_default_na=False)
    run = ingest(SAMPLE, account)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.rows_read == len(raw) == 1000
    assert run.periods == sorted(
        raw["BillingPeriodStart"].str[:10].unique()
    )  # 999 Sep rows, 1 Oct row
    for period, rows in raw.groupby(raw["BillingPeriodStart"].str[:10]):
        stored = CostRollup.objects.filter(account=account, billing_period_start=period).aggregate(
            v=Sum("billed_cost")
        )["v"]
        assert abs(float(stored) - rows["BilledCost"].sum()) < 0.005, period
    by_cat = raw.groupby("ChargeCategory")["BilledCost"].sum()
    for category, expected in by_cat.items():
        stored = CostRollup.objects.filter(account=account, charge_category=category).aggregate(
            v=Sum("billed_cost")
        )
        assert abs(float(stored["v"]) - expected) < 0.005, category
    total = CostRollup.objects.filter(account=account).aggregate(
        b=Sum("billed_cost"), e=Sum("effective_cost")
    )
    assert abs(float(total["b"]) - raw["BilledCost"].sum()) < 0.005
    assert abs(float(total["e"]) - raw["EffectiveCost"].sum()) < 0.005


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared/data/focus/focus_sample.csv is not present")
def test_reloading_the_same_file_is_idempotent(account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(SAMPLE, account)
    first = snapshot(account)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(SAMPLE, account)
    second = snapshot(account)
    assert first[0] == second[0] and first[2] == second[2]
    for (period, old_version, *_), (_, new_version, *_) in zip(first[1], second[1], strict=True):
        assert old_version != new_version  # a new version became current…
        assert store().versions(account.pk, period) == [new_version]  # …and the old one is gone


@pytest.mark.parametrize(
    "version,suffix", [("1.0", "csv"), ("1.1", "csv.gz"), ("1.2", "parquet"), ("1.2", "csv")]
)
def test_generated_files_of_every_version_load_with_exact_totals(
    tmp_path, account, version, suffix
):
    gen = write_focus_file(
        tmp_path / f"f.{suffix}", version=version, rows=3000, seed=5, periods=2, batch_rows=700
    )
    run = ingest(gen.path, account)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.rows_stored == 3000 and len(run.periods) == 2
    total = CostRollup.objects.filter(account=account).aggregate(
        b=Sum("billed_cost"), e=Sum("effective_cost")
    )
    assert abs(float(total["b"]) - gen.billed_cost_total) < 0.01
    assert abs(float(total["e"]) - gen.effective_cost_total) < 0.01
    assert CostRollup.objects.filter(account=account, billed_cost__lt=0).exists()  # credits kept


def _corrupt_csv(src: Path, dst: Path, data_row: int, column: str, value: str) -> None:
    with open(src, newline="") as fh:
        rows = list(csv.reader(fh))
    rows[data_row][rows[0].index(column)] = value
    with open(dst, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


@pytest.mark.parametrize("bad_row", [1, 1234, 2999])
def test_a_file_corrupted_at_row_n_leaves_the_store_exactly_as_before(tmp_path, account, bad_row):
    good = write_focus_file(
        tmp_path / "good.csv", version="1.2", rows=3000, seed=9, periods=2, batch_rows=500
    )
    assert ingest(good.path, account).status == RunStatus.SUCCEEDED
    before = snapshot(account)
    bad = tmp_path / "bad.csv"
    _corrupt_csv(good.path, bad, bad_row, "BilledCost", "12;34")
    run = ingest(bad, account)
    assert run.status == RunStatus.FAILED
    assert any(f"row {bad_row}" in e and "BilledCost" in e for e in run.errors), run.errors
    assert snapshot(account) == before
    for load in BillingPeriodLoad.objects.filter(account=account):  # nothing of the failed load
        assert store().versions(account.pk, load.billing_period_start) == [load.version]


def test_an_error_raised_mid_stream_leaves_previous_data(tmp_path, account):
    gen = write_focus_file(tmp_path / "f.parquet", rows=5000, seed=1, periods=1, batch_rows=1000)
    assert ingest(gen.path, account).status == RunStatus.SUCCEEDED
    before = snapshot(account)
    other = write_focus_file(tmp_path / "g.parquet", rows=5000, seed=2, periods=1, batch_rows=1000)

    def crash(rows):
        if rows >= 3000:
            raise OSError("disk full while writing line items")

    run = services.create_run(account, RunSource.FOCUS_FILE, str(other.path))
    with pytest.raises(OSError):
        from ingest.focus.reader import open_focus
        from planner.billing.loader import load_batches

        load_batches(open_focus(other.path, batch_rows=1000), account, run=run, progress=crash)
    assert snapshot(account) == before


def test_ingest_focus_command_reports_totals_and_fails_clearly(tmp_path, account, capsys):
    gen = write_focus_file(tmp_path / "f.csv.gz", rows=2000, seed=3)
    call_command("ingest_focus", str(gen.path), "--account", account.account_id, "--no-progress")
    out = capsys.readouterr().out
    assert "2,000 rows" in out and "billed" in out
    with gzip.open(gen.path, "rt", newline="") as fh:
        rows = [row for _, row in zip(range(6), csv.reader(fh), strict=False)]
    drop = rows[0].index("BilledCost")
    with open(tmp_path / "nocost.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([r[:drop] + r[drop + 1 :] for r in rows])
    with pytest.raises(CommandError, match="BilledCost"):
        call_command(
            "ingest_focus",
            str(tmp_path / "nocost.csv"),
            "--account",
            account.account_id,
            "--no-progress",
        )
    with pytest.raises(CommandError, match="no cloud account"):
        call_command("ingest_focus", str(gen.path), "--account", "nope")


def test_two_active_runs_for_the_same_period_are_refused(account):
    import datetime as dt

    services.create_run(account, "aws_export", "s3://b/k", period_start=dt.date(2026, 1, 1))
    with pytest.raises(services.RunAlreadyActive):
        services.create_run(account, "aws_export", "s3://b/k", period_start=dt.date(2026, 1, 1))


def test_analyst_uploads_a_focus_file_through_the_ui(
    analyst_client, tmp_path, account, django_capture_on_commit_callbacks
):
    gen = write_focus_file(tmp_path / "up.csv", rows=500, seed=4)
    with open(gen.path, "rb") as fh, django_capture_on_commit_callbacks(execute=True):
        resp = analyst_client.post("/ingest/upload/", {"account": account.pk, "file": fh})
    assert resp.status_code == 302
    run = IngestRun.objects.latest("created_at")
    assert run.status == RunStatus.SUCCEEDED and run.rows_stored == 500
    total = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    assert abs(total - Decimal(str(gen.billed_cost_total))) < Decimal("0.01")
    page = analyst_client.get(resp["Location"]).content.decode()
    assert "succeeded" in page and "500" in page


def test_a_resent_run_keeps_the_users_mixed_currency_choice(tmp_path, account):
    from planner.billing.tasks import enqueue_focus_ingest, ingest_focus

    gen = write_focus_file(tmp_path / "mixed.csv", rows=300, seed=6)
    mixed = tmp_path / "mixed-eur.csv"
    with open(gen.path, newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("BillingCurrency")
    for row in rows[1:50]:
        row[col] = "EUR"
    with open(mixed, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    refused = ingest(mixed, account)
    assert refused.status == RunStatus.FAILED and any("EUR" in e for e in refused.errors)
    run = services.create_run(account, RunSource.FOCUS_FILE, str(mixed))
    enqueue_focus_ingest(run.pk, allow_mixed_currency=True)  # on_commit: not sent in this test
    ingest_focus.apply(args=[run.pk])  # what the requeue sweep sends: no options in the message
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.rows_stored == 300
