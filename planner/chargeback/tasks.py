"""Celery tasks of showback / chargeback: thin and idempotent."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="planner.chargeback.tasks.send_scheduled_reports",
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=5,
)
def send_scheduled_reports() -> int:
    """Beat (daily): weekly and monthly chargeback reports not yet sent for their period."""
    from planner.chargeback.delivery import send_scheduled

    return send_scheduled()
