"""Fault injection with real services: a worker killed mid-ingest, its database connections
terminated mid-job, and Redis restarted under beat. Each ends with the period loaded exactly once
and totals equal to a clean in-process load of the same file.

Needs PostgreSQL (DATABASE_URL) and Redis; skipped with a reason locally when absent, failed in CI.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, Sum

from fixtures_gen.focus_files import write_focus_file
from ingest.focus.reader import open_focus
from planner.billing import services
from planner.billing.loader import load_batches
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun
from planner.core.models import CloudAccount
from tests.conftest import reset_broker_pools
from tests.system.services import CeleryProc, redis_shutdown, redis_start, service_env, wait_for

pytestmark = [pytest.mark.system, pytest.mark.slow]
ROWS = 120_000  # large enough that the ingest runs for several seconds on a busy 2-core machine
INGEST = "planner.billing.tasks.ingest_focus"
DIMENSIONS = [
    "billing_period_start",
    "date",
    "provider",
    "service_name",
    "region",
    "resource_id",
    "sku",
    "pricing_category",
    "charge_category",
    "service_tag",
    "currency",
]


@pytest.fixture(scope="module")
def big_focus(tmp_path_factory):
    path = tmp_path_factory.mktemp("faults") / "big.csv"
    return write_focus_file(path, rows=ROWS, seed=42, periods=2)


def _rollups(account) -> dict:
    rows = (
        CostRollup.objects.filter(account=account)
        .values(*DIMENSIONS)
        .annotate(
            billed=Sum("billed_cost"),
            effective=Sum("effective_cost"),
            items=Sum("line_items"),
            n=Count("id"),
        )
    )
    return {
        tuple(r[d] for d in DIMENSIONS): (r["billed"], r["effective"], r["items"], r["n"])
        for r in rows
    }


def _clean_load(path: Path):
    """The reference: the same file loaded in this process, no faults."""
    account = CloudAccount.objects.create(
        provider="other", account_id="clean-reference", name="clean"
    )
    load_batches(open_focus(str(path)), account)
    return account


def _assert_loaded_exactly_once(account, gen, run_id: int) -> None:
    run = IngestRun.objects.get(pk=run_id)
    assert run.status == "succeeded", (run.status, run.errors)
    loads = BillingPeriodLoad.objects.filter(account=account)
    assert sorted(str(p.billing_period_start) for p in loads) == gen.billing_periods
    assert sum(p.rows for p in loads) == ROWS
    billed = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    assert float(billed) == pytest.approx(gen.billed_cost_total, abs=0.01)
    reference = _clean_load(gen.path)
    assert _rollups(account) == _rollups(
        reference
    )  # every rollup row equal, none doubled or missing
    store = Path(os.environ["LINE_ITEM_STORE"]) / f"account={account.pk}"
    versions = sorted(p.parent.name for p in store.glob("period=*/v=*/part-0.parquet"))
    assert len(versions) == len(gen.billing_periods), versions  # one published version per period


def _start_run(worker, gen):
    account = CloudAccount.objects.create(
        provider="aws", account_id=f"faults-{os.getpid()}", name="faults"
    )
    run = services.create_run(account, "focus_file", str(gen.path))
    worker.send(INGEST, run.pk)
    return account, run.pk


def _mid_job(run_id: int, worker) -> IngestRun:
    """Wait until the run is running and has streamed some rows (progress is written each second)."""
    return wait_for(
        lambda: IngestRun.objects.filter(pk=run_id, status="running", rows_read__gt=0).first(),
        120,
        "the ingest to be mid-way",
        alive=worker._check_alive,
    )


def test_worker_killed_mid_ingest_is_redelivered_and_loads_once(celery_worker_proc, big_focus):
    worker = celery_worker_proc
    account, run_id = _start_run(worker, big_focus)
    mid = _mid_job(run_id, worker)
    assert mid.rows_read < ROWS
    worker.kill()
    assert IngestRun.objects.get(pk=run_id).status == "running"  # the dead worker never finished it
    assert not BillingPeriodLoad.objects.filter(account=account).exists()  # nothing half-written
    worker.start()
    worker.wait_ready()
    wait_for(
        lambda: IngestRun.objects.get(pk=run_id).status in ("succeeded", "failed"),
        240,
        "the redelivered ingest to finish",
        interval=0.5,
        alive=worker._check_alive,
    )
    assert IngestRun.objects.get(pk=run_id).attempts >= 2  # claimed again by the redelivered task
    _assert_loaded_exactly_once(account, big_focus, run_id)


def test_database_connections_terminated_mid_job_retry_and_complete(celery_worker_proc, big_focus):
    worker = celery_worker_proc
    account, run_id = _start_run(worker, big_focus)
    _mid_job(run_id, worker)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        killed = sum(1 for (ok,) in cur.fetchall() if ok)
    assert killed >= 1  # the worker's connection
    wait_for(
        lambda: IngestRun.objects.get(pk=run_id).status in ("succeeded", "failed"),
        240,
        "the retried ingest to finish",
        interval=0.5,
        alive=worker._check_alive,
    )
    assert IngestRun.objects.get(pk=run_id).attempts >= 2
    assert "Retry in" in worker.log_tail(200_000) or "retry" in worker.log_tail(200_000).lower()
    _assert_loaded_exactly_once(account, big_focus, run_id)


def test_redis_restart_under_beat_loses_no_run(celery_worker_proc, tmp_path):
    """A run is created while Redis is down (its message cannot be sent: the API still answers and
    the run stays queued); Redis comes back empty; beat's requeue sweep sends it again and the
    worker loads it once."""
    worker = celery_worker_proc
    gen = write_focus_file(tmp_path / "small.csv", rows=2_000, seed=8)
    beat = CeleryProc(
        "beat",
        ["-l", "info", "-s", str(tmp_path / "beat-schedule")],
        service_env(INGEST_REQUEUE_INTERVAL_S="1"),
        tmp_path / "beat.log",
    )
    beat.start()
    account = CloudAccount.objects.create(provider="aws", account_id="redis-restart", name="redis")
    try:
        wait_for(
            lambda: "requeue-stalled-focus-runs" in beat.log_tail(100_000),
            60,
            "beat to send its first sweep",
        )
        redis_shutdown()
        try:
            from planner.billing.tasks import enqueue_focus_ingest
            from planner.celery import app

            run = services.create_run(account, "focus_file", str(gen.path))
            saved = {
                k: app.conf[k]
                for k in ("task_always_eager", "broker_url", "broker_transport_options")
            }
            try:
                app.conf.update(
                    task_always_eager=False,
                    broker_url=worker.broker_url,
                    broker_transport_options={"max_retries": 0},
                )
                reset_broker_pools()
                enqueue_focus_ingest(
                    run.pk
                )  # autocommit: on_commit sends now; it fails and is logged
            finally:
                app.conf.update(saved)
                reset_broker_pools()
            assert IngestRun.objects.get(pk=run.pk).status == "queued"
        finally:
            redis_start()  # always restore Redis for everybody else

        def finished():
            r = IngestRun.objects.get(pk=run.pk)
            return r.status in ("succeeded", "failed")

        wait_for(
            finished,
            120,
            "the requeued ingest to finish",
            interval=0.5,
            alive=worker._check_alive,
        )
        assert beat.alive(), beat.log_tail()
    finally:
        redis_start()
        beat.stop()
    run.refresh_from_db()
    assert run.status == "succeeded" and run.rows_stored == 2_000, run.errors
    assert BillingPeriodLoad.objects.filter(account=account).count() == 1
    billed = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    assert Decimal(billed).quantize(Decimal("0.01")) == Decimal(
        repr(gen.billed_cost_total)
    ).quantize(Decimal("0.01"))
