"""Celery tasks: thin, idempotent, take ids. Transient errors retry with backoff and jitter."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError, transaction

from planner.billing import services
from planner.billing.models import IngestRun, RunSource


@shared_task(
    bind=True,
    name="planner.billing.tasks.ingest_focus",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, ConnectionError, TimeoutError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def ingest_focus(self, run_id: int, allow_mixed_currency: bool = False) -> dict:
    redelivered = (
        bool((self.request.delivery_info or {}).get("redelivered")) or self.request.retries > 0
    )
    run = services.execute_focus_run(
        run_id, redelivered=redelivered, allow_mixed_currency=allow_mixed_currency
    )
    return {"run": run.pk, "status": run.status, "rows": run.rows_stored}


def enqueue_focus_ingest(run_id: int, allow_mixed_currency: bool = False) -> None:
    """Queue after the run row is committed, so a worker never looks for a row it can't see.
    If the broker is down the error is logged and the run stays queued: the beat task
    `requeue_stalled_focus_runs` sends it again once the broker is back (no lost work). The
    user's options are kept on the run, so a re-sent or redelivered task honours them too."""
    if allow_mixed_currency:
        IngestRun.objects.filter(pk=run_id).update(allow_mixed_currency=True)
    transaction.on_commit(lambda: ingest_focus.delay(run_id, allow_mixed_currency), robust=True)


@shared_task(name="planner.billing.tasks.requeue_stalled_focus_runs")
def requeue_stalled_focus_runs() -> int:
    """Beat: re-send FOCUS-file runs still 'queued' after INGEST_REQUEUE_AFTER_S seconds (their
    message was lost, e.g. the broker restarted without persistence). Safe to over-send: only one
    task can claim a queued run (services.claim_run). Returns how many were re-sent."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from planner.billing.models import IngestRun, RunStatus

    cutoff = timezone.now() - dt.timedelta(seconds=settings.INGEST_REQUEUE_AFTER_S)
    ids = list(IngestRun.objects.filter(status=RunStatus.QUEUED, source=RunSource.FOCUS_FILE, created_at__lt=cutoff)
               .values_list("pk", flat=True)[:500])  # fmt: skip
    for run_id in ids:
        ingest_focus.delay(run_id)
    return len(ids)


@shared_task(name="planner.billing.tasks.schedule_due_ingests")
def schedule_due_ingests() -> int:
    """Beat entry point: queue each enabled account whose interval has elapsed
    (planner/billing/scheduling.py)."""
    from planner.billing.scheduling import queue_due_accounts

    return queue_due_accounts()


# Connector tasks live in their own module; importing it here registers them with autodiscovery.
from planner.billing import connector_tasks  # noqa: E402, F401
