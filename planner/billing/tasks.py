"""Celery tasks: thin, idempotent, take ids. Transient errors retry with backoff and jitter."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError, transaction

from ingest.retry import TransientError
from planner.billing import services
from planner.billing.models import IngestRun, RunSource
from planner.billing.runs import is_final_attempt


@shared_task(
    bind=True,
    name="planner.billing.tasks.ingest_focus",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientError, OperationalError, ConnectionError, TimeoutError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def ingest_focus(
    self, run_id: int, allow_mixed_currency: bool = False, reclaim: bool = False
) -> dict:
    """`reclaim`: sent by the requeue sweep for a run whose worker's lease lapsed."""
    redelivered = (
        reclaim
        or bool((self.request.delivery_info or {}).get("redelivered"))
        or self.request.retries > 0
    )
    # a transient failure (a dropped database connection, a throttled object store) leaves the
    # run for the retry unless this is the last attempt (planner/billing/runs.py)
    run = services.execute_focus_run(
        run_id,
        redelivered=redelivered,
        allow_mixed_currency=allow_mixed_currency,
        final_attempt=is_final_attempt(self),
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
    message was lost, e.g. the broker restarted without persistence), and any run whose lease
    lapsed. Safe to over-send: only one task can claim a run (services.claim_run). Returns how
    many were re-sent."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from planner.billing.connector_tasks import ingest_account_period
    from planner.billing.models import IngestRun, RunStatus

    now = timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.INGEST_REQUEUE_AFTER_S)
    ids = list(
        IngestRun.objects.filter(
            status=RunStatus.QUEUED, source=RunSource.FOCUS_FILE, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for run_id in ids:
        ingest_focus.delay(run_id)
    # Runs whose worker died (killed, OOM, host lost): the lease it renewed has lapsed. Sent
    # again at once instead of waiting for the broker's redelivery (Redis: the visibility
    # timeout, hours). Only one sender can win the claim (services.claim_run).
    stalled = list(
        IngestRun.objects.filter(status=RunStatus.RUNNING, lease_expires_at__lt=now).values_list(
            "pk", "source"
        )[:500]
    )
    for run_id, source in stalled:
        if source == RunSource.FOCUS_FILE:
            ingest_focus.delay(run_id, reclaim=True)
        else:
            ingest_account_period.delay(run_id, reclaim=True)
    return len(ids) + len(stalled)


@shared_task(name="planner.billing.tasks.sweep_line_item_orphans")
def sweep_line_item_orphans(older_than_s: int | None = None) -> int:
    """Beat: remove line-item versions that no period pointer names and that started more than
    LINE_ITEM_ORPHAN_AFTER_S ago (left by a killed or failed load, or a failed cleanup). Current
    versions and loads still running are never touched. Returns how many were removed."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from planner.billing.loader import store
    from planner.billing.models import BillingPeriodLoad
    from planner.billing.store import period_key

    age = settings.LINE_ITEM_ORPHAN_AFTER_S if older_than_s is None else older_than_s
    current = {
        (acct, period_key(period)): version
        for acct, period, version in BillingPeriodLoad.objects.values_list(
            "account_id", "billing_period_start", "version"
        )
    }
    return len(store().sweep(current, timezone.now() - dt.timedelta(seconds=age)))


@shared_task(name="planner.billing.tasks.maintain_rollup_partitions")
def maintain_rollup_partitions() -> dict:
    """Beat (daily): monthly rollup partitions two years ahead (PostgreSQL), and rollups older
    than ROLLUP_RETENTION_MONTHS removed (0 keeps everything). Idempotent."""
    from django.conf import settings
    from django.db import connection

    from planner.billing.partitions import maintain

    return maintain(connection, settings.ROLLUP_RETENTION_MONTHS)


@shared_task(name="planner.billing.tasks.schedule_due_ingests")
def schedule_due_ingests() -> int:
    """Beat entry point: queue each enabled account whose interval has elapsed
    (planner/billing/scheduling.py)."""
    from planner.billing.scheduling import queue_due_accounts

    return queue_due_accounts()


# Connector tasks live in their own module; importing it here registers them with autodiscovery.
from planner.billing import connector_tasks  # noqa: E402, F401


@shared_task(name="planner.billing.tasks.refresh_fx_rates")
def refresh_fx_rates() -> dict:
    """Beat (daily): fetch the ECB reference-rate history from FX_RATES_URL when reachable
    and re-convert the rollups. Unreachable (offline installs) is not an error: the rates
    in use (the bundled file or the last refreshed copy) stay, and the next run tries again."""
    import logging

    from ingest.fx import FxError
    from planner.billing.currency import reconvert_rollups, refresh

    try:
        changed, groups = refresh()
    except (OSError, FxError) as exc:
        logging.getLogger(__name__).warning(
            "ECB reference rates not refreshed (%s: %s); converting with the rates in use",
            type(exc).__name__,
            exc,
        )
        return {
            "refreshed": False,
            "error": f"{type(exc).__name__}: {exc}",
            "groups": reconvert_rollups(),
        }
    return {"refreshed": changed, "groups": groups}


@shared_task(name="planner.billing.tasks.purge_uploads")
def purge_uploads() -> int:
    """Beat: delete uploaded FOCUS files whose runs are done (failed ones after
    HEADROOM_UPLOAD_KEEP_FAILED_DAYS). Returns how many files were deleted."""
    from planner.billing.uploads import purge_uploads as purge

    return purge()
