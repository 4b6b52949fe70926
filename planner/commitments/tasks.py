"""Celery tasks of the commitments inventory: thin and idempotent."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="planner.commitments.tasks.alert_expiring_commitments",
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=5,
)
def alert_expiring_commitments() -> int:
    """Beat (daily): email expiry alerts that are due and not yet sent."""
    from planner.commitments.expiry import alert_expiring

    return alert_expiring()


@shared_task(
    name="planner.commitments.tasks.sync_commitments",
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=5,
)
def sync_commitments(run_id: int | None = None, days: int = 45) -> int:
    """After an ingest: register the commitments charged in the run's billing periods (without
    a run: in the last ``days`` days of data). Idempotent; returns how many were new."""
    from planner.billing.models import IngestRun
    from planner.commitments.inventory import default_window, sync_from_line_items

    periods = []
    if run_id is not None:
        run = IngestRun.objects.filter(pk=run_id).first()
        periods = [dt.date.fromisoformat(p) for p in (run.periods if run else [])]
    if not periods:
        start, end = default_window(days=days)
        return sync_from_line_items(start, end + dt.timedelta(days=1))
    created = 0
    for first in periods:
        last = (first + dt.timedelta(days=32)).replace(day=1) + dt.timedelta(days=1)
        created += sync_from_line_items(first, last)
    return created
