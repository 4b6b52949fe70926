"""Real-service helpers (see conftest.py for the fixtures): a Celery worker subprocess (and beat) on Redis sharing the pytest-django
PostgreSQL test database, and helpers to stop/start Redis safely.

`celery_worker_proc` yields a `WorkerProc` with .restart(), .kill(), .send(task_name, *args);
the worker consumes the default queue of a dedicated Redis database (CELERY_BROKER_URL when it is
a redis:// URL, else redis://127.0.0.1:6379/14), so other suites' workers are not disturbed.
Skipped with a reason when PostgreSQL/Redis are absent; failed in CI (HEADROOM_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, skip_or_fail

BROKER_URL = (
    os.environ.get("CELERY_BROKER_URL", "")
    if os.environ.get("CELERY_BROKER_URL", "").startswith("redis://")
    else "redis://127.0.0.1:6379/14"
)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
VISIBILITY_TIMEOUT_S = 10  # unacked messages of a killed worker come back after this long
CELERY_APP = "tests.system.celery_app"  # planner's app with a fast unacked-message restore


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_database_url() -> str:
    """The URL of the pytest-django test database, for subprocesses to share it."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        skip_or_fail(
            "system tests need DATABASE_URL=postgres://… (the worker must share the test database)"
        )
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


test_database_url.__test__ = False  # not a test, despite the name


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2, alive=None):
    """Poll `predicate` until truthy (returns its value); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if alive is not None:
            alive()
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


class CeleryProc:
    """A `celery -A planner <kind>` subprocess with its log in a file."""

    def __init__(self, kind: str, args: list[str], env: dict[str, str], log_path: Path):
        self.kind, self.args, self.env, self.log_path = kind, args, env, log_path
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.log_path, "a") as log:  # Popen keeps its own copy of the descriptor
            log.write(f"\n===== start #{self.starts} =====\n")
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", CELERY_APP, self.kind, *self.args],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no ack, exactly like an OOM kill or a lost node."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class WorkerProc(CeleryProc):
    broker_url = BROKER_URL

    def send(self, task_name: str, *args, **kwargs):
        """Send a task by name to this worker's broker (returns the AsyncResult)."""
        from celery import Celery

        from planner import queues

        # not set as current: a later test resolving a task proxy must see the project app
        client = Celery("headroom-system-tests", broker=self.broker_url, set_as_current=False)
        # the production queues and routes (planner/queues.py); Redis workers (RabbitMQ tests send
        # with `celery -A planner call`, which declares quorum queues as configured)
        client.conf.update(
            task_queues=queues.task_queues(quorum=False),
            task_routes=queues.task_routes(),
            task_default_queue=queues.DEFAULT,
            task_default_exchange=queues.DEFAULT,
            task_default_routing_key=queues.DEFAULT,
        )
        try:
            return client.send_task(task_name, args=list(args), kwargs=kwargs)
        finally:
            client.close()

    def wait_ready(self, timeout: float = 90) -> None:
        wait_for(
            lambda: "ready." in self.log_tail(100_000).rsplit("===== start", 1)[-1],
            timeout,
            f"the Celery worker to start\n{self.log_tail()}",
            alive=self._check_alive,
        )

    def _check_alive(self) -> None:
        if not self.alive():
            pytest.fail(f"the Celery worker exited:\n{self.log_tail()}")

    def restart(self) -> None:
        super().restart()
        self.wait_ready()


def service_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_RESULT_BACKEND": "",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DEBUG": "1",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
        "PYTHONUNBUFFERED": "1",
        "INGEST_REQUEUE_AFTER_S": "2",  # the beat sweep re-sends runs queued > 2 s (production: 600)
        "INGEST_LEASE_S": "3",  # a killed worker's run is free 3 s later (production: 60)
    }
    env.update(extra)
    return env


def purge_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()  # our own database number only


def redis_shutdown() -> None:
    subprocess.run(
        ["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "shutdown", "nosave"],
        capture_output=True,
        timeout=30,
    )
    wait_for(lambda: not reachable(REDIS_HOST, REDIS_PORT), 30, "Redis to stop")


def redis_start() -> None:
    """Start Redis as the machine runs it (loopback, no persistence) unless it is already up."""
    if reachable(REDIS_HOST, REDIS_PORT):
        return
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            REDIS_HOST,
            "--port",
            str(REDIS_PORT),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    wait_for(lambda: reachable(REDIS_HOST, REDIS_PORT), 30, "Redis to start")
