"""Real-service fixtures for tests/system. `celery_worker_proc` yields a `WorkerProc` with
.restart(), .kill(), .start(), .send(task_name, *args) — see tests/system/services.py."""

from __future__ import annotations

import os

import pytest

from tests.conftest import skip_or_fail
from tests.system.services import (
    REDIS_HOST,
    REDIS_PORT,
    WorkerProc,
    purge_broker,
    reachable,
    service_env,
)


@pytest.fixture
def celery_worker_proc(transactional_db, tmp_path):
    """A real worker process (solo pool) on Redis, reading/writing the test database."""
    if not reachable(REDIS_HOST, REDIS_PORT):
        skip_or_fail(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}")
    env = service_env()
    purge_broker()
    worker = WorkerProc(
        "worker",
        [
            "-P",
            "solo",
            "-l",
            "info",
            "-n",
            f"faults-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        tmp_path / "worker.log",
    )
    worker.start()
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()
        print(worker.log_tail())
        if reachable(REDIS_HOST, REDIS_PORT):
            purge_broker()
