"""Celery tasks for what-ifs and recommendations: thin, idempotent, take ids."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError, transaction

from planner.whatif import services


@shared_task(
    name="planner.whatif.tasks.run_scenario",
    acks_late=True,
    autoretry_for=(OperationalError, ConnectionError),
    retry_backoff=2,
    retry_jitter=True,
    max_retries=5,
)
def run_scenario(scenario_id: int, max_steps: int | None = None) -> dict:
    """Simulate a scenario (all of it, or ``max_steps`` services), updating its progress."""
    s = services.run_scenario_steps(scenario_id, max_steps=max_steps)
    return {"scenario": s.pk, "status": s.status, "progress": s.progress}


@shared_task(name="planner.whatif.tasks.refresh_recommendations")
def refresh_recommendations() -> int:
    return services.refresh_all_recommendations()


def enqueue_scenario(scenario_id: int) -> None:
    """Queue after commit so a worker never looks for a row it cannot see."""
    transaction.on_commit(lambda: run_scenario.delay(scenario_id))
