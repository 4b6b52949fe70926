"""Line items and uploads in S3 (LINE_ITEM_STORE=s3://bucket/prefix) against moto's S3 server run
as its own process on loopback: loads, re-loads, failed loads, the orphan sweep, the dashboard's
line-item reads, an upload through the API, and a worker killed with SIGKILL mid-load.

Every figure is checked against the generator's own totals or an independent pyarrow computation
on the source file. The worker test needs PostgreSQL and Redis (skipped locally without them,
failed in CI); the others run on SQLite too.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from decimal import Decimal

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from django.db.models import Sum

from fixtures_gen.focus_files import write_focus_file
from ingest.focus.errors import FocusValidationError
from ingest.focus.reader import open_focus
from planner.billing import services
from planner.billing.loader import load_batches, store
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun, RunStatus
from planner.billing.store import period_key
from planner.billing.tasks import sweep_line_item_orphans
from planner.core.models import CloudAccount
from tests.system.s3 import CREDENTIALS, MotoServer
from tests.system.services import wait_for

pytestmark = pytest.mark.system
BUCKET = "headroom-line-items"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(log=tmp_path_factory.mktemp("moto") / "moto.log").start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture
def s3_settings(moto, settings, monkeypatch):
    """This test's own prefix in the bucket, for line items and uploads."""
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)  # the FOCUS reader's boto3 client
    prefix = f"t-{uuid.uuid4().hex[:10]}"
    settings.LINE_ITEM_STORE = f"s3://{BUCKET}/{prefix}"
    settings.LINE_ITEM_STORE_ENDPOINT = moto.url
    settings.LINE_ITEM_STORE_REGION = "us-east-1"
    settings.UPLOAD_STORE = f"s3://{BUCKET}/{prefix}/_uploads"
    return prefix


@pytest.fixture
def account(db):
    return CloudAccount.objects.create(provider="aws", account_id=uuid.uuid4().hex[:12], name="s3")


def _objects(moto, prefix) -> set[str]:
    """Object keys, without the empty "directory" markers pyarrow leaves after a delete."""
    return {k for k in moto.keys(BUCKET, prefix) if not k.endswith("/")}


def _versions(moto, prefix, account) -> dict[str, set[str]]:
    """period → version names, from S3's own listing (not through the code under test)."""
    out: dict[str, set[str]] = {}
    for key in moto.keys(BUCKET, f"{prefix}/account={account.pk}/"):
        if key.endswith("/"):  # an empty "directory" marker pyarrow leaves after a delete
            continue
        parts = key.split("/")
        out.setdefault(parts[2].removeprefix("period="), set()).add(parts[3].removeprefix("v="))
    return out


def _ingest(path, account) -> IngestRun:
    run = services.create_run(account, "focus_file", str(path))
    return services.execute_focus_run(run.pk)


def test_s3_store_loads_reloads_and_reads_back_exact_rows(
    s3_settings, moto, account, tmp_path, django_capture_on_commit_callbacks
):
    gen = write_focus_file(tmp_path / "f.parquet", rows=4000, seed=3, periods=2, fmt="parquet")
    with django_capture_on_commit_callbacks(execute=True):
        first = _ingest(gen.path, account)
    assert first.status == RunStatus.SUCCEEDED, first.errors
    loads = {
        period_key(p.billing_period_start): p
        for p in BillingPeriodLoad.objects.filter(account=account)
    }
    assert _versions(moto, s3_settings, account) == {k: {p.version} for k, p in loads.items()}
    source = pq.read_table(gen.path)
    for load in loads.values():  # the line items read back from S3 are the file's rows
        table = store().read(account.pk, load.billing_period_start, load.version)
        expected = pc.sum(
            pc.equal(pc.cast(source["BillingPeriodStart"], "date32"), load.billing_period_start)
        ).as_py()
        assert table.num_rows == load.rows == expected
        assert store().row_count(account.pk, load.billing_period_start, load.version) == expected
    billed = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    assert float(billed) == pytest.approx(gen.billed_cost_total, abs=0.01)

    with django_capture_on_commit_callbacks(execute=True):  # a re-load replaces, never adds
        assert _ingest(gen.path, account).status == RunStatus.SUCCEEDED
    again = {
        period_key(p.billing_period_start): p.version
        for p in BillingPeriodLoad.objects.filter(account=account)
    }
    assert _versions(moto, s3_settings, account) == {k: {v} for k, v in again.items()}
    assert all(again[k] != loads[k].version for k in again)
    billed2 = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    assert billed2 == pytest.approx(
        billed, abs=Decimal("0.000001")
    )  # same rows; float sum order may differ


def test_s3_store_failed_load_leaves_previous_version_and_no_parts(
    s3_settings, moto, account, tmp_path
):
    good = write_focus_file(tmp_path / "g.csv", rows=3000, seed=9, periods=1, batch_rows=500)
    assert _ingest(good.path, account).status == RunStatus.SUCCEEDED
    before = _objects(moto, s3_settings)
    pointer = list(BillingPeriodLoad.objects.filter(account=account).values_list("version", "rows"))
    with open(good.path, newline="") as fh:
        rows = list(csv.reader(fh))
    rows[2001][rows[0].index("BilledCost")] = "12;34"
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(FocusValidationError) as err:  # batches of 500: 4 were uploading
        load_batches(open_focus(str(bad), batch_rows=500), account)
    assert "row 2001" in str(err.value.errors[0])
    assert _objects(moto, s3_settings) == before
    assert (
        list(BillingPeriodLoad.objects.filter(account=account).values_list("version", "rows"))
        == pointer
    )


def test_s3_store_sweep_removes_only_old_orphans(s3_settings, moto, account, tmp_path):
    gen = write_focus_file(tmp_path / "f.csv", rows=500, seed=4, periods=1)
    assert _ingest(gen.path, account).status == RunStatus.SUCCEEDED
    load = BillingPeriodLoad.objects.get(account=account)
    client = moto.client()
    base = f"{s3_settings}/account={account.pk}/period={period_key(load.billing_period_start)}"
    old = "20200101T000000-deadbeef"  # a load killed long ago
    fresh = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-0ddba11"  # a load running right now
    for version in (old, fresh):
        client.put_object(Bucket=BUCKET, Key=f"{base}/v={version}/part-0.parquet", Body=b"x")
    assert sweep_line_item_orphans() == 1  # default age (2 × task time limit)
    assert _versions(moto, s3_settings, account) == {
        period_key(load.billing_period_start): {load.version, fresh}
    }
    assert sweep_line_item_orphans(older_than_s=-60) == 1  # even the newest orphan, never current
    assert _versions(moto, s3_settings, account) == {
        period_key(load.billing_period_start): {load.version}
    }


def test_s3_store_dashboard_reads_line_items_from_s3(s3_settings, account, tmp_path):
    from planner.core.dashboard import DateRange, _commitment_split_from_line_items

    gen = write_focus_file(tmp_path / "f.parquet", rows=6000, seed=12, periods=1, fmt="parquet")
    assert _ingest(gen.path, account).status == RunStatus.SUCCEEDED
    src = pq.read_table(gen.path)
    days = pc.cast(src["ChargePeriodStart"], "date32")
    rng = DateRange(pc.min(days).as_py(), pc.max(days).as_py())
    committed = pc.equal(src["PricingCategory"], "Committed")
    unused = pc.and_(
        committed, pc.equal(pc.fill_null(src["CommitmentDiscountStatus"], ""), "Unused")
    )
    expected_unused = pc.sum(pc.filter(src["EffectiveCost"], unused)).as_py() or 0.0
    expected_used = (
        pc.sum(pc.filter(src["EffectiveCost"], committed)).as_py() or 0.0
    ) - expected_unused
    assert expected_used > 0 and expected_unused > 0  # the generator makes both
    used, unused_cost = _commitment_split_from_line_items(rng, {"account": account.pk})
    assert used == pytest.approx(expected_used, abs=1e-6)
    assert unused_cost == pytest.approx(expected_unused, abs=1e-6)


def test_s3_store_upload_through_api_lands_in_s3_and_loads(
    s3_settings, moto, analyst, account, tmp_path, django_capture_on_commit_callbacks
):
    from tests.planner.api.conftest import token_client

    gen = write_focus_file(tmp_path / "up.csv.gz", rows=800, seed=5, periods=1)
    client = token_client(analyst)
    with django_capture_on_commit_callbacks(execute=True), open(gen.path, "rb") as f:
        resp = client.post(
            "/api/v1/ingest-runs/", {"account": account.pk, "file": f}, format="multipart"
        )
    assert resp.status_code == 202, resp.content
    run = IngestRun.objects.get(pk=resp.json()["id"])
    key = run.source_uri.removeprefix(f"s3://{BUCKET}/")
    assert run.source_uri.startswith(f"s3://{BUCKET}/{s3_settings}/_uploads/") and key.endswith(
        ".csv.gz"
    )
    assert moto.client().get_object(Bucket=BUCKET, Key=key)["Body"].read() == gen.path.read_bytes()
    assert run.status == RunStatus.SUCCEEDED and run.rows_stored == 800, run.errors


ROWS = 120_000


def test_s3_store_worker_killed_mid_load_redelivers_and_loads_once(
    celery_worker_proc, moto, tmp_path, monkeypatch, settings
):
    """kill -9 of the worker while it streams parts to S3: the previous state stays current, the
    redelivered task loads the period once, and the killed attempt's parts are orphans the sweep
    removes (S3 shows only the current version afterwards)."""
    worker = celery_worker_proc
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    store_url = f"s3://{BUCKET}/{prefix}"
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    settings.LINE_ITEM_STORE, settings.LINE_ITEM_STORE_ENDPOINT = store_url, moto.url
    worker.env.update(moto.env(), LINE_ITEM_STORE=store_url)
    worker.restart()

    gen = write_focus_file(tmp_path / "big.csv", rows=ROWS, seed=42, periods=2)
    moto.client().upload_file(str(gen.path), BUCKET, f"{prefix}/_uploads/big.csv")
    account = CloudAccount.objects.create(provider="aws", account_id=f"s3kill-{prefix}", name="k")
    run = services.create_run(account, "focus_file", f"{store_url}/_uploads/big.csv")
    worker.send("planner.billing.tasks.ingest_focus", run.pk)
    wait_for(
        lambda: IngestRun.objects.filter(pk=run.pk, status="running", rows_read__gt=0).first(),
        120,
        "the ingest to be mid-way",
        alive=worker._check_alive,
    )
    worker.kill()
    assert IngestRun.objects.get(pk=run.pk).status == "running"
    assert not BillingPeriodLoad.objects.filter(account=account).exists()
    worker.start()
    worker.wait_ready()
    wait_for(
        lambda: IngestRun.objects.get(pk=run.pk).status in ("succeeded", "failed"),
        240,
        "the redelivered ingest to finish",
        interval=0.5,
        alive=worker._check_alive,
    )
    run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts >= 2, (run.status, run.errors)
    loads = BillingPeriodLoad.objects.filter(account=account)
    assert sorted(str(p.billing_period_start) for p in loads) == gen.billing_periods
    assert sum(p.rows for p in loads) == ROWS
    billed = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    assert float(billed) == pytest.approx(gen.billed_cost_total, abs=0.01)
    reference = CloudAccount.objects.create(provider="other", account_id=f"ref-{prefix}", name="r")
    load_batches(open_focus(str(gen.path)), reference)
    assert (
        CostRollup.objects.filter(account=reference).count()
        == CostRollup.objects.filter(account=account).count()
    )

    current = {period_key(p.billing_period_start): p.version for p in loads}
    sweep_line_item_orphans(older_than_s=0)  # the killed attempt's version, if any part landed
    assert _versions(moto, prefix, account) == {k: {v} for k, v in current.items()}
    for p in loads:  # and the current parts hold exactly the period's rows
        assert store().read(account.pk, p.billing_period_start, p.version).num_rows == p.rows
