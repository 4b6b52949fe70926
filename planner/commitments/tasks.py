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
def sync_commitments(days: int = 45) -> int:
    """After an ingest: register commitments charged in the last ``days`` days of data."""
    from planner.commitments.inventory import default_window, sync_from_line_items

    start, end = default_window(days=days)
    return sync_from_line_items(start, end + dt.timedelta(days=1))
