"""Queues with real brokers: routing to ingest / simulation / alerts / default, quorum queues on
RabbitMQ, and a worker killed with SIGKILL mid-ingest taken over by another worker — on Redis
without waiting for the visibility timeout (two hours in production), on RabbitMQ from a quorum
queue. Needs PostgreSQL, Redis and RabbitMQ (skipped locally without them, failed in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.db.models import Sum

from fixtures_gen.focus_files import write_focus_file
from planner.billing import services
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun
from planner.core.models import CloudAccount
from planner.queues import QUEUE_NAMES, route_for
from tests.conftest import REPO, skip_or_fail
from tests.system.services import (
    BROKER_URL,
    REDIS_HOST,
    REDIS_PORT,
    CeleryProc,
    WorkerProc,
    purge_broker,
    reachable,
    service_env,
    wait_for,
)

pytestmark = [pytest.mark.system, pytest.mark.slow]
ROWS = 120_000
INGEST = "planner.billing.tasks.ingest_focus"


def test_queues_route_each_task_family_to_its_queue():
    from planner.celery import app

    expected = {
        INGEST: "ingest",
        "planner.billing.connector_tasks.ingest_account_period": "ingest",
        "planner.usage.tasks.ingest_prometheus_usage": "ingest",
        "planner.billing.tasks.sweep_line_item_orphans": "ingest",
        "planner.whatif.tasks.run_scenario": "simulation",
        "planner.whatif.tasks.refresh_recommendations": "simulation",
        "planner.alerts.tasks.after_ingest": "alerts",
        "planner.alerts.tasks.post_webhook": "alerts",
        "planner.billing.tasks.requeue_stalled_focus_runs": "default",
        "planner.billing.tasks.schedule_due_ingests": "default",
        "planner.core.tasks.ping": "default",
    }
    for name, queue in expected.items():
        assert route_for(name) == queue, name
        assert app.amqp.router.route({}, name)["queue"].name == queue, name  # Celery agrees
    assert {q.name for q in app.conf.task_queues} == set(QUEUE_NAMES)


def _worker(name: str, env: dict, log, queues: str = "ingest,default") -> WorkerProc:
    w = WorkerProc(
        "worker",
        [
            "-P",
            "solo",
            "-l",
            "info",
            "-n",
            f"{name}-{os.getpid()}@%h",
            "-Q",
            queues,
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        log,
    )
    w.start()
    w.wait_ready()
    return w


def _mid_load(run_id: int, worker) -> None:
    wait_for(
        lambda: IngestRun.objects.filter(pk=run_id, status="running", rows_read__gt=0).exists(),
        120,
        "the ingest to be mid-way",
        alive=worker._check_alive,
    )


def _finished(run_id: int, worker, timeout: float) -> IngestRun:
    wait_for(
        lambda: IngestRun.objects.get(pk=run_id).status in ("succeeded", "failed"),
        timeout,
        "the taken-over ingest to finish",
        interval=0.5,
        alive=worker._check_alive,
    )
    return IngestRun.objects.get(pk=run_id)


def _assert_once(account, gen, run) -> None:
    assert run.status == "succeeded" and run.attempts == 2, (run.status, run.attempts, run.errors)
    assert (
        sum(BillingPeriodLoad.objects.filter(account=account).values_list("rows", flat=True))
        == ROWS
    )
    billed = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    assert float(billed) == pytest.approx(gen.billed_cost_total, abs=0.01)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    return write_focus_file(tmp_path_factory.mktemp("q") / "big.csv", rows=ROWS, seed=7, periods=2)


def test_queues_redis_killed_worker_taken_over_without_visibility_wait(
    transactional_db, tmp_path, big_file
):
    """CELERY_VISIBILITY_TIMEOUT at its production default (7200 s): Redis would hand the dead
    worker's message back in two hours. The run's lease lapses after INGEST_LEASE_S (3 s here)
    and beat's requeue sweep (every second here) gives it to the other worker."""
    if not reachable(REDIS_HOST, REDIS_PORT):
        skip_or_fail(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}")
    env = service_env(CELERY_VISIBILITY_TIMEOUT="7200", INGEST_REQUEUE_INTERVAL_S="1")
    purge_broker()
    a = _worker("a", env, tmp_path / "a.log")
    b = beat = None
    try:
        account = CloudAccount.objects.create(provider="aws", account_id="q-redis", name="q")
        run = services.create_run(account, "focus_file", str(big_file.path))
        a.send(INGEST, run.pk)
        _mid_load(run.pk, a)
        a.kill()
        b = _worker("b", env, tmp_path / "b.log")
        beat = CeleryProc(
            "beat",
            ["-l", "info", "-s", str(tmp_path / "beat-schedule")],
            env,
            tmp_path / "beat.log",
        )
        beat.start()
        done = _finished(run.pk, b, 180)
        _assert_once(account, big_file, done)
        # Taken over through the lease, not redelivery: the dead worker's message is still
        # parked unacknowledged in Redis, where it would wait out the visibility timeout.
        import redis

        assert redis.Redis.from_url(BROKER_URL).hlen("unacked") >= 1
    finally:
        for proc in (a, b, beat):
            if proc is not None:
                proc.stop()
        purge_broker()


RABBIT = ("127.0.0.1", 5672)


@pytest.fixture
def rabbit_vhost():
    """A throwaway RabbitMQ virtual host (deleted afterwards), so no other suite's queues mix."""
    if not reachable(*RABBIT):
        skip_or_fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    vhost = f"headroom-test-{uuid.uuid4().hex[:8]}"

    def ctl(*args: str) -> str:
        return subprocess.run(
            ["rabbitmqctl", *args], check=True, capture_output=True, text=True, timeout=60
        ).stdout

    try:
        ctl("add_vhost", vhost)
        ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except (OSError, subprocess.CalledProcessError) as exc:
        skip_or_fail(f"rabbitmqctl cannot create a virtual host: {exc}")
    yield vhost, ctl
    ctl("delete_vhost", vhost)


def test_queues_rabbitmq_quorum_queues_and_killed_worker(
    transactional_db, tmp_path, big_file, rabbit_vhost
):
    vhost, ctl = rabbit_vhost
    broker = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    env = service_env(
        CELERY_BROKER_URL=broker, CELERY_QUORUM_QUEUES="1", INGEST_REQUEUE_INTERVAL_S="1"
    )
    a = _worker("a", env, tmp_path / "a.log")
    b = beat = None
    try:
        listing = ctl("list_queues", "-p", vhost, "name", "type")
        types = dict(line.split("\t")[:2] for line in listing.splitlines() if "\t" in line)
        # the queues this worker consumes were declared as quorum queues
        assert {types.get("ingest"), types.get("default")} == {"quorum"}, types
        account = CloudAccount.objects.create(provider="aws", account_id="q-rabbit", name="q")
        run = services.create_run(account, "focus_file", str(big_file.path))
        # sent as the web process does: planner's own app, routes and queue declarations
        subprocess.run(
            [sys.executable, "-m", "celery", "-A", "planner", "call", INGEST, f"--args=[{run.pk}]"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=120,
        )
        _mid_load(run.pk, a)
        a.kill()
        b = _worker("b", env, tmp_path / "b.log")
        beat = CeleryProc(
            "beat",
            ["-l", "info", "-s", str(tmp_path / "beat-schedule")],
            env,
            tmp_path / "beat.log",
        )
        beat.start()
        done = _finished(run.pk, b, 180)
        _assert_once(account, big_file, done)
    finally:
        for proc in (a, b, beat):
            if proc is not None:
                proc.stop()
