"""A real task round trip: this process → Redis → a real `celery worker` process → Redis → here.

Needs PostgreSQL (the worker reads the test database) and Redis; skipped with a reason when they
are absent locally, failed in CI (HEADROOM_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from celery import Celery
from django.db import connection

from planner.core.models import Service
from tests.conftest import REPO, skip_or_fail

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]

REDIS_URL = (
    os.environ.get("CELERY_BROKER_URL", "").startswith("redis://")
    and os.environ["CELERY_BROKER_URL"]
    or "redis://127.0.0.1:6379/15"
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        skip_or_fail(
            "system tests need DATABASE_URL=postgres://… (the worker must share the test database)"
        )
    user = s.get("USER") or "postgres"
    return f"postgres://{user}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture
def worker(tmp_path):
    if not _reachable("127.0.0.1", 6379):
        skip_or_fail("Redis is not reachable on 127.0.0.1:6379")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DEBUG": "1",
    }
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115 - outlives this block, closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "planner",
            "worker",
            "-P",
            "solo",
            "-l",
            "info",
            "-n",
            f"roundtrip-{os.getpid()}@%h",
            "-Q",
            f"roundtrip-{os.getpid()}",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield proc, f"roundtrip-{os.getpid()}"
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.seek(0)
    print(log.read()[-3000:])
    log.close()


def test_task_round_trip_through_redis_and_a_real_worker(worker):
    proc, queue = worker
    Service.objects.create(
        slug="rt",
        name="Round trip",
        modality="llm_chat",
        unit_of_work="1k tokens",
        latency_slo_p95_ms=100,
    )
    expected_services = Service.objects.count()  # committed: the worker reads the same database
    client = Celery("roundtrip-client", broker=REDIS_URL, backend=REDIS_URL)
    result = client.send_task("planner.core.tasks.ping", args=[21], queue=queue)
    deadline = time.monotonic() + 90
    while not result.ready() and time.monotonic() < deadline:
        assert proc.poll() is None, "the worker process exited"
        time.sleep(0.2)
    assert result.get(timeout=5) == {"echo": 42, "services": expected_services}
