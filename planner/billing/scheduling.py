"""Which account × billing period to ingest now; called by the beat task ``schedule_due_ingests``.

An enabled account with a connector source is *due* when no run was queued for it within its
``ingest_interval_hours`` (default 6). A due account gets one run — and one Celery task — per
billing period touched by the last ``INGEST_RESTATEMENT_DAYS`` days (default 3: providers
restate recent days, so early in a month the previous month is re-read too); an account that
was never ingested also backfills ``INGEST_BACKFILL_MONTHS`` (default 3) months. For data
exports (S3, Blob storage) every older period whose manifest or object ETags changed since its
last load is queued as well. Each period run replaces the whole period atomically, so
connectors always read the full period.

Overlap is prevented by the database, not a process-local lock: ``create_run`` refuses a
second queued/running run for the same account × period (partial unique index), and
``claim_run`` lets exactly one worker move a run to running.

Runs left active far longer than any task may take (worker lost without redelivery) are
marked failed so they stop blocking their period.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from ingest.canonical import month_start
from planner.billing.connectors import CONNECTOR_SOURCES, build_connector, last_fingerprint
from planner.billing.models import IngestRun, RunStatus
from planner.billing.services import RunAlreadyActive, create_run
from planner.core.models import CloudAccount, IngestSource

log = logging.getLogger(__name__)
EXPORT_SOURCES = (IngestSource.AWS_EXPORT, IngestSource.AZURE_EXPORT)
#: How far back restated export periods are looked for (the export's manifests say what changed).
EXPORT_LOOKBACK_DAYS = 400


def due_periods(
    today: dt.date, *, restatement_days: int, backfill_months: int = 0
) -> list[dt.date]:
    """Billing periods (month starts) to read today, oldest first.

    >>> due_periods(dt.date(2026, 10, 2), restatement_days=3)
    [datetime.date(2026, 9, 1), datetime.date(2026, 10, 1)]
    >>> due_periods(dt.date(2026, 10, 20), restatement_days=3, backfill_months=3)
    [datetime.date(2026, 8, 1), datetime.date(2026, 9, 1), datetime.date(2026, 10, 1)]
    """
    periods = {month_start(today - dt.timedelta(days=d)) for d in range(restatement_days + 1)}
    start = month_start(today)
    for _ in range(max(0, backfill_months - 1)):
        start = month_start(start - dt.timedelta(days=1))
        periods.add(start)
    return sorted(periods)


def stale_after() -> dt.timedelta:
    """How long a run may stay queued/running before it is considered abandoned."""
    limit = settings.CELERY_TASK_TIME_LIMIT
    visibility = int(settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])
    return dt.timedelta(seconds=2 * max(limit, visibility))


def fail_abandoned_runs(now: dt.datetime) -> int:
    cutoff = now - stale_after()
    return IngestRun.objects.filter(
        status__in=[RunStatus.QUEUED, RunStatus.RUNNING],
        created_at__lt=cutoff,
        source__in=CONNECTOR_SOURCES,
    ).update(
        status=RunStatus.FAILED,
        finished_at=now,
        progress_message="abandoned",
        errors=[
            f"abandoned: still queued or running {stale_after()} after it was created (worker lost?)"
        ],
    )


def due_accounts(now: dt.datetime) -> list[CloudAccount]:
    last_queued = dict(
        IngestRun.objects.filter(source__in=CONNECTOR_SOURCES, account__isnull=False)
        .values_list("account_id")
        .annotate(last=Max("created_at"))
    )
    due = []
    for account in CloudAccount.objects.filter(enabled=True, source__in=CONNECTOR_SOURCES):
        last = last_queued.get(account.pk)
        interval = dt.timedelta(
            hours=account.ingest_interval_hours or settings.INGEST_DEFAULT_INTERVAL_HOURS
        )
        if last is None or now - last >= interval:
            due.append(account)
    return due


def changed_export_periods(account: CloudAccount, today: dt.date) -> list[dt.date]:
    """Export periods of the last ``EXPORT_LOOKBACK_DAYS`` whose manifest/ETags changed since their
    last load (providers restate closed months too). A listing failure only logs: the due periods
    are still queued."""
    since = today - dt.timedelta(days=EXPORT_LOOKBACK_DAYS)
    try:
        found = build_connector(account).discover()
    except Exception as exc:  # noqa: BLE001 - the regular periods still run and report the error
        log.warning("%s: cannot list export periods: %s", account, exc)
        return []
    return [
        p
        for p, info in sorted(found.items())
        if p >= since and last_fingerprint(account.pk, p) != info.fingerprint
    ]


def queue_account(
    account: CloudAccount, now: dt.datetime, *, user=None, backfill: bool | None = None
) -> list[int]:
    """Create one run per due billing period and enqueue its task after commit; returns run ids.

    Periods that already have an active run are skipped (that run will load them).
    """
    from planner.billing.connector_tasks import enqueue_connector_run

    if backfill is None:
        backfill = account.last_ingest_at is None
    periods = due_periods(
        now.date(),
        restatement_days=settings.INGEST_RESTATEMENT_DAYS,
        backfill_months=settings.INGEST_BACKFILL_MONTHS if backfill else 0,
    )
    if account.source in EXPORT_SOURCES and not backfill:
        periods = sorted(set(periods) | set(changed_export_periods(account, now.date())))
    queued = []
    for period in periods:
        try:
            run = create_run(
                account, account.source, account.source_uri, period_start=period, user=user
            )
        except RunAlreadyActive:
            log.info("%s %s: a run is already active; not queueing another", account, period)
            continue
        enqueue_connector_run(run.pk)
        queued.append(run.pk)
    return queued


def queue_due_accounts(now: dt.datetime | None = None) -> int:
    """Beat entry point: queue every due account × period, metrics ingest and a daily price refresh.

    Returns the number of tasks queued."""
    from planner.billing.connector_tasks import queue_price_refresh
    from planner.usage.tasks import queue_usage_ingest

    now = now or timezone.now()
    fail_abandoned_runs(now)
    count = 0
    for account in due_accounts(now):
        count += len(queue_account(account, now))
    count += queue_usage_ingest(now)
    count += queue_price_refresh(now)
    return count
