"""Celery queues and routing: which worker pool runs which task (README "Deployment").

Four queues, each served by its own worker process (or fleet), so a 40-minute ingest never
delays an anomaly email and a burst of what-if simulations never delays an ingest:

==============  ===================================================  =======================
queue           tasks                                                concurrency (measured)
==============  ===================================================  =======================
``ingest``      FOCUS uploads, connector reads, Prometheus usage,    1 per 2 cores and
                orphan sweep                                         ~1 GB RAM per process
``simulation``  what-if scenarios, nightly recommendations           1 per core (CPU-bound)
``alerts``      anomaly detection after ingest, budgets, webhooks,   4–8 (mostly waiting on
                emails, commitment expiry                            the database and SMTP)
``default``     beat's light periodic tasks (requeue sweep, due-     2
                ingest scheduling, FX and price refresh), the rest
==============  ===================================================  =======================

A worker started without ``-Q`` consumes all four (development, tests). On RabbitMQ the
production configuration declares them as quorum queues (replicated, survive a node loss);
Celery then turns off global QoS itself (``worker_detect_quorum_queues``).
"""

from __future__ import annotations

from kombu import Exchange, Queue

INGEST, SIMULATION, ALERTS, DEFAULT = "ingest", "simulation", "alerts", "default"
QUEUE_NAMES = (INGEST, SIMULATION, ALERTS, DEFAULT)

# First match wins (Celery reads a dict of globs in order): light periodic tasks before the
# app-wide patterns, so they never wait behind a long ingest.
ROUTES: dict[str, str] = {
    "planner.billing.tasks.requeue_stalled_focus_runs": DEFAULT,
    "planner.billing.tasks.schedule_due_ingests": DEFAULT,
    "planner.billing.tasks.refresh_fx_rates": DEFAULT,
    "planner.billing.connector_tasks.refresh_price_catalog": DEFAULT,
    "planner.billing.tasks.maintain_rollup_partitions": DEFAULT,
    "planner.usage.tasks.maintain_usage_partitions": DEFAULT,
    "planner.billing.*": INGEST,
    "planner.usage.*": INGEST,
    "planner.whatif.*": SIMULATION,
    "planner.alerts.*": ALERTS,
    "planner.commitments.*": ALERTS,
}


def task_routes() -> dict[str, dict[str, str]]:
    return {pattern: {"queue": queue} for pattern, queue in ROUTES.items()}


def route_for(task_name: str) -> str:
    """The queue a task name is routed to (as Celery's router decides it)."""
    from fnmatch import fnmatchcase

    return next((q for p, q in ROUTES.items() if fnmatchcase(task_name, p)), DEFAULT)


def task_queues(quorum: bool) -> tuple[Queue, ...]:
    """The queue declarations; ``quorum`` makes RabbitMQ quorum queues (ignored by Redis)."""
    arguments = {"x-queue-type": "quorum"} if quorum else None
    # topic: what Celery's native delayed delivery (countdown, retry backoff) needs on quorum queues
    exchange = Exchange(DEFAULT, type="topic" if quorum else "direct")
    return tuple(
        Queue(name, exchange, routing_key=name, queue_arguments=arguments, durable=True)
        for name in QUEUE_NAMES
    )
