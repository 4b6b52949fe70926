"""Ingest runs: create, claim, execute, record. Called by views, commands and Celery tasks."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from planner.billing.errors import RunAlreadyActive
from planner.billing.models import IngestRun, RunStatus
from planner.billing.signals import ingest_succeeded
from planner.core.credentials import scrub
from planner.core.models import CloudAccount

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 1.0


def create_run(
    account: CloudAccount | None, source: str, source_uri: str = "", *, period_start=None, user=None
) -> IngestRun:
    """Create a queued run. The partial unique index refuses a second active run for the same
    account × period (a claim in the database, not a process-local lock)."""
    try:
        with transaction.atomic():
            return IngestRun.objects.create(
                account=account,
                source=source,
                source_uri=source_uri,
                period_start=period_start,
                created_by=user,
            )
    except IntegrityError:
        raise RunAlreadyActive(
            f"an ingest for {account} and period {period_start} is already queued or running"
        ) from None


def _lease_s() -> int:
    from django.conf import settings

    return int(settings.INGEST_LEASE_S)


def claim_run(run_id: int, *, redelivered: bool = False) -> bool:
    """Move a run from queued to running, with a lease. A redelivered task (its worker died) may
    re-claim a run left in 'running' only once that run's lease has lapsed: a duplicate delivery
    while the first worker is alive (Redis redelivers after its visibility timeout even to a
    healthy long task) finds the lease renewed and does nothing. Returns False when another
    worker holds it or it already finished."""
    now = timezone.now()
    allowed = Q(status=RunStatus.QUEUED)
    if redelivered:
        allowed |= Q(status=RunStatus.RUNNING) & (
            Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
        )
    return bool(
        IngestRun.objects.filter(allowed, pk=run_id).update(
            status=RunStatus.RUNNING,
            started_at=now,
            attempts=F("attempts") + 1,
            progress=0.0,
            progress_message="starting",
            lease_expires_at=now + dt.timedelta(seconds=_lease_s()),
        )
    )


@contextlib.contextmanager
def run_lease(run_id: int):
    """Renew the run's lease every INGEST_LEASE_S / 3 seconds from a thread while the body runs
    (the load itself may sit in one long database statement). On the way out the lease is
    released (a run still 'running' then — a task about to retry — can be re-claimed at once).
    SQLite means one host and no second worker: no heartbeat thread there, the release stays."""
    from django.db import connection

    stop = threading.Event()
    lease = _lease_s()

    def heartbeat() -> None:
        from django.db import connection as thread_connection

        try:
            while not stop.wait(max(1.0, lease / 3)):
                IngestRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                    lease_expires_at=timezone.now() + dt.timedelta(seconds=lease)
                )
        except Exception:  # the lease then lapses and another worker may take over: say so
            log.exception("run %s: lease heartbeat stopped", run_id)
        finally:
            thread_connection.close()

    beat = None
    if connection.vendor != "sqlite":
        beat = threading.Thread(target=heartbeat, name=f"lease-{run_id}", daemon=True)
        beat.start()
    try:
        yield
    finally:
        stop.set()
        if beat is not None:
            beat.join()
        for attempt in (1, 2):  # the body may have failed because the connection was lost
            try:
                IngestRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                    lease_expires_at=timezone.now()
                )
                break
            except DatabaseError:
                if attempt == 2:  # the lease then lapses by itself after INGEST_LEASE_S
                    log.warning("run %s: could not release its lease", run_id)
                else:
                    connection.close()


def printable(message) -> str:
    """Error text as stored and shown: NUL and other control characters from a hostile file are
    made visible (PostgreSQL's jsonb refuses a raw NUL, and a page should not render them), and
    the value of any credential variable is replaced by the variable's name."""
    text = scrub(str(message))
    return "".join(ch if ch.isprintable() or ch in "\n\t" else f"\\x{ord(ch):02x}" for ch in text)


def finish_run(
    run: IngestRun,
    *,
    result=None,
    error: str | None = None,
    errors: list | None = None,
    warnings: list | None = None,
) -> None:
    now = timezone.now()
    fields = {"finished_at": now, "duration_s": (now - (run.started_at or now)).total_seconds()}
    if error or errors:
        fields.update(
            status=RunStatus.FAILED,
            errors=[printable(e) for e in (errors or [error])],
            progress_message="failed",
        )
    else:
        fields.update(
            status=RunStatus.SUCCEEDED,
            progress=1.0,
            progress_message="done",
            rows_read=result.rows_read,
            rows_stored=result.rows_stored,
            periods=result.periods,
            totals=result.totals,
        )
    if warnings:
        fields["warnings"] = [printable(w) for w in warnings[:200]]
    IngestRun.objects.filter(pk=run.pk).update(**fields)
    if run.account_id and not (error or errors):
        CloudAccount.objects.filter(pk=run.account_id).update(last_ingest_at=now)
    if not (error or errors):  # alerts: detect anomalies, evaluate budgets (after commit)
        ingest_succeeded.send(sender=IngestRun, run_id=run.pk, account_id=run.account_id)


def progress_reporter(run: IngestRun, total_bytes: Callable[[], tuple[int, int]] | None = None):
    """Returns a callback(rows_read) that writes progress to the run at most once a second."""
    last = [0.0]

    def report(rows_read: int) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = now
        fraction = 0.0
        if total_bytes:
            done, total = total_bytes()
            fraction = min(0.99, done / total) if total else 0.0
        IngestRun.objects.filter(pk=run.pk).update(
            rows_read=rows_read, progress=fraction, progress_message=f"{rows_read:,} rows read"
        )

    return report


def execute_focus_run(
    run_id: int,
    *,
    redelivered: bool = False,
    allow_mixed_currency: bool = False,
    progress: Callable[[int], None] | None = None,
    final_attempt: bool = True,
) -> IngestRun:
    """Stream a FOCUS file (path or s3://) into the store (planner/billing/runs.py). Errors are
    recorded on the run and leave previously loaded periods untouched; a transient one is
    re-raised for the task to retry unless ``final_attempt``."""
    from planner.billing.runs import execute_run, focus_file_reader
    from planner.billing.uploads import discard_after_run

    run = execute_run(
        run_id,
        focus_file_reader(allow_mixed_currency),
        redelivered=redelivered,
        final_attempt=final_attempt,
        progress=progress,
    )
    if run.status == RunStatus.SUCCEEDED:
        discard_after_run(run.source_uri, succeeded=True)  # loaded: the upload is not kept
    return run
