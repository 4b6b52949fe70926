"""Scheduling and connector runs: due periods, one task per account × period, ETag skip, retries, claims.

AWS calls go to a real moto server (or, for throttling/auth, a local HTTP server speaking the
Cost Explorer JSON protocol); the database, loader, Celery (eager) and line-item store are real.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import time_machine
from django.db import connection

from planner.billing import scheduling
from planner.billing.connectors import execute_connector_run, last_fingerprint
from planner.billing.models import BillingPeriodLoad, IngestRun, RunStatus
from planner.billing.services import RunAlreadyActive, create_run
from planner.core.models import CloudAccount
from tests.factories import make_account, make_deployment, make_service
from tests.ingest.aws_data import (
    BUCKET,
    CUR_BILLED,
    CUR_EFFECTIVE,
    cur_table,
    moto_endpoint,
    parquet_bytes,
    put_data_export,
)

NOW = dt.datetime(2026, 10, 2, 9, 0, tzinfo=dt.UTC)
SEP, OCT = dt.date(2026, 9, 1), dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def moto_s3():
    with moto_endpoint():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for month, scale in ((8, 0.5), (9, 1.0), (10, 2.0)):
            put_data_export(
                s3, "sched", "gpu-cur", month, parquet_bytes(cur_table(month, scale=scale))
            )
        yield s3


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path  # price files and refresh log per test


def _account(**kw) -> CloudAccount:
    defaults = dict(
        provider="aws",
        account_id="sched-0001",
        name="GPU prod",
        source="aws_export",
        source_uri=f"s3://{BUCKET}/sched",
    )
    return make_account(**{**defaults, **kw})


def test_due_periods_rereads_previous_month_during_restatement_window():
    assert scheduling.due_periods(dt.date(2026, 10, 2), restatement_days=3) == [SEP, OCT]
    assert scheduling.due_periods(dt.date(2026, 10, 3), restatement_days=3) == [
        SEP,
        OCT,
    ]  # Sep 30 is 3 days back
    assert scheduling.due_periods(dt.date(2026, 10, 4), restatement_days=3) == [OCT]
    assert scheduling.due_periods(dt.date(2026, 10, 20), restatement_days=3, backfill_months=3) == [
        dt.date(2026, 8, 1),
        SEP,
        OCT,
    ]
    assert scheduling.due_periods(dt.date(2026, 1, 2), restatement_days=3) == [
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
    ]


@pytest.mark.django_db
def test_scheduler_fans_out_one_run_per_period_then_skips_unchanged_exports(
    moto_s3, django_capture_on_commit_callbacks
):
    account = _account()
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        queued = scheduling.queue_due_accounts()
    assert (
        queued == 3 + 1
    )  # never ingested: 3-month backfill (Aug, Sep, Oct), plus the daily price refresh
    runs = list(IngestRun.objects.filter(account=account).order_by("period_start"))
    assert [r.period_start for r in runs] == [dt.date(2026, 8, 1), SEP, OCT]
    assert all(r.status == RunStatus.SUCCEEDED for r in runs), [r.errors for r in runs]
    loads = {p.billing_period_start: p for p in BillingPeriodLoad.objects.filter(account=account)}
    for period, scale in ((dt.date(2026, 8, 1), 0.5), (SEP, 1.0), (OCT, 2.0)):
        assert math.isclose(
            float(loads[period].billed_cost), sum(round(c, 6) for c in _scaled(scale)), abs_tol=1e-6
        )
    assert loads[SEP].billed_cost == Decimal(str(round(CUR_BILLED, 6)))
    assert math.isclose(float(loads[SEP].effective_cost), CUR_EFFECTIVE, abs_tol=1e-6)
    assert runs[1].fingerprint and last_fingerprint(account.pk, SEP) == runs[1].fingerprint

    with (
        time_machine.travel(NOW + dt.timedelta(hours=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert scheduling.queue_due_accounts() == 0  # interval not elapsed

    version = loads[SEP].version
    with (
        time_machine.travel(NOW + dt.timedelta(hours=6), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert scheduling.queue_due_accounts() == 2  # Sep (restatement) + Oct
    later = IngestRun.objects.filter(account=account, created_at__gt=runs[-1].created_at)
    assert later.count() == 2 and all("unchanged" in r.progress_message for r in later)
    assert (
        BillingPeriodLoad.objects.get(account=account, billing_period_start=SEP).version == version
    )

    # August is restated long after it closed: its new ETags get it re-read on the next round.
    put_data_export(moto_s3, "sched", "gpu-cur", 8, parquet_bytes(cur_table(8, scale=0.75)))
    with (
        time_machine.travel(NOW + dt.timedelta(hours=12), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert scheduling.queue_due_accounts() == 3  # Sep + Oct (unchanged) and the restated Aug
    aug = BillingPeriodLoad.objects.get(account=account, billing_period_start=dt.date(2026, 8, 1))
    assert math.isclose(float(aug.billed_cost), sum(_scaled(0.75)), abs_tol=1e-6)


def _scaled(scale: float) -> list[float]:
    from tests.ingest.aws_data import CUR_ROWS

    return [round(r[2] * scale, 6) for r in CUR_ROWS]


@pytest.mark.django_db
def test_second_active_run_for_same_account_and_period_is_refused(moto_s3):
    account = _account(account_id="2")
    create_run(account, "aws_export", period_start=SEP)
    with pytest.raises(RunAlreadyActive):
        create_run(account, "aws_export", period_start=SEP)
    assert scheduling.queue_account(account, NOW, backfill=False) != []  # only Oct was free
    assert IngestRun.objects.filter(account=account, period_start=SEP).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_for_the_same_period_load_once(moto_s3):
    """Two workers get the same run (duplicate delivery) at the same instant: one claims and loads."""
    account = _account(account_id="3")
    run = create_run(account, "aws_export", period_start=SEP)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def worker():
        try:
            barrier.wait()
            results.append(execute_connector_run(run.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 1  # claimed exactly once
    assert BillingPeriodLoad.objects.filter(account=account).count() == 1
    assert sorted(results) in (["running", "succeeded"], ["succeeded", "succeeded"])

    # Two schedulers racing for the same account create one run per period between them.
    account.refresh_from_db()
    barrier2 = threading.Barrier(2)
    created: list[list[int]] = []

    def scheduler():
        try:
            barrier2.wait()
            created.append([r.pk for r in _create_all(account)])
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert (
        sum(len(c) for c in created) == 1
    )  # Oct once (Sep has finished, so it may be re-run once too)
    assert IngestRun.objects.filter(account=account, period_start=OCT).count() == 1


def _create_all(account):
    out = []
    with contextlib.suppress(RunAlreadyActive):
        out.append(create_run(account, "aws_export", period_start=OCT))
    return out


class _CostExplorer(BaseHTTPRequestHandler):
    """Cost Explorer JSON protocol: a script of (status, body) answers, then a real result."""

    script: list[tuple[int, dict]] = []
    calls = 0

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls = type(self)
        cls.calls += 1
        status, body = cls.script.pop(0) if cls.script else (200, _ce_result())
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        if status == 400 and body.get("__type") == "ThrottlingException":
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _ce_result() -> dict:
    group = {
        "Keys": ["Amazon Elastic Compute Cloud - Compute", "USE1-BoxUsage:g5.xlarge"],
        "Metrics": {
            "UnblendedCost": {"Amount": "24.144", "Unit": "USD"},
            "AmortizedCost": {"Amount": "24.144", "Unit": "USD"},
            "UsageQuantity": {"Amount": "24", "Unit": "Hrs"},
        },
    }
    return {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2026-10-01", "End": "2026-10-02"},
                "Groups": [group],
                "Estimated": True,
            }
        ]
    }


@pytest.fixture
def ce_server(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CostExplorer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    _CostExplorer.calls = 0
    yield _CostExplorer
    server.shutdown()


THROTTLE = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


@pytest.fixture
def eager_retries():
    """Eager Celery re-runs a retried task in-process only when errors are not propagated."""
    from planner.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


@pytest.mark.django_db
def test_task_retries_throttling_and_then_loads(
    ce_server, eager_retries, django_capture_on_commit_callbacks
):
    """Throttled 5 times: the in-call retries (4 attempts) give up, the Celery task retries and succeeds."""
    ce_server.script = [THROTTLE] * 5
    account = _account(account_id="4", source="aws_cost_explorer", source_uri="")
    with django_capture_on_commit_callbacks(execute=True):
        queued = scheduling.queue_account(account, NOW, backfill=False)
    run = IngestRun.objects.get(pk=queued[0])  # Sep: met the throttling
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.attempts == 2  # first task attempt gave up after 4 calls; the retry succeeded
    assert ce_server.calls == 5 + len(queued)  # 5 throttled + one good answer per run
    assert BillingPeriodLoad.objects.get(
        account=account, billing_period_start=OCT
    ).billed_cost == Decimal("24.144")


@pytest.mark.django_db
def test_auth_failure_fails_fast_with_a_clear_message(
    ce_server, django_capture_on_commit_callbacks
):
    ce_server.script = [
        (
            400,
            {
                "__type": "UnrecognizedClientException",
                "message": "The security token included in the request is invalid.",
            },
        )
    ]
    account = _account(account_id="5", source="aws_cost_explorer", source_uri="")
    run = create_run(account, "aws_cost_explorer", period_start=OCT)
    from planner.billing.connector_tasks import ingest_account_period

    ingest_account_period.delay(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.attempts == 1
    assert ce_server.calls == 1  # not retried
    assert "authentication failed, not retried" in run.errors[0] and "credential" in run.errors[0]
    assert not BillingPeriodLoad.objects.filter(account=account).exists()


@pytest.mark.django_db
def test_price_refresh_stores_spot_prices_for_instance_types_in_use(
    moto_s3, settings, django_capture_on_commit_callbacks
):
    from planner.billing.connector_tasks import queue_price_refresh
    from planner.billing.pricing import price_updates_path, refreshed_price_catalog

    svc = make_service(
        slug="sched-image-gen",
        name="Image generation",
        modality="image_generation",
        unit_of_work="1k images",
        latency_slo_p95_ms=4000,
    )
    for region in ("us-east-1", "us-west-2"):
        make_deployment(svc, name=f"img-{region}", region=region, throughput_rps_per_replica=2)
    _account(account_id="6")
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert queue_price_refresh(NOW) == 1
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        assert queue_price_refresh(NOW + dt.timedelta(hours=2)) == 0  # refreshed today already
    assert queue_price_refresh(NOW + dt.timedelta(hours=25)) == 1
    saved = price_updates_path().read_text().splitlines()
    assert saved[0].startswith("provider,instance_type,region,spot_usd_per_hour,source,fetched_at")
    mine = [line for line in saved if line.startswith("aws,g5.xlarge,")]
    assert sorted(line.split(",")[2] for line in mine) == ["us-east-1", "us-west-2"]
    assert all(line.split(",")[4] == "aws_spot_price_history" for line in saved[1:])
    catalog = refreshed_price_catalog()
    offer = catalog.offer("aws", "g5.xlarge", "us-east-1")
    assert (
        offer.spot_usd_per_hour == 0.00001 and offer.spot_price_source == "aws_spot_price_history"
    )
    with pytest.raises(KeyError):  # the seed catalog has no us-west-2 g5.xlarge: not invented
        catalog.offer("aws", "g5.xlarge", "us-west-2")
