"""The ingest → detect → alert hook.

Billing sends `ingest_succeeded` (declared where it is sent, planner/billing/signals.py) when an
ingest run finishes successfully. Alerts listen to it and, once the run's transaction has
committed, queue `planner.alerts.tasks.after_ingest`: anomaly detection, anomaly alerts and
budget evaluation. Billing imports nothing from alerts.
"""

from __future__ import annotations

from django.db import transaction

from planner.billing.signals import ingest_succeeded


def queue_after_ingest(sender, run_id: int, account_id: int | None = None, **kwargs) -> None:
    from planner.alerts.tasks import after_ingest

    # robust: a failure to queue (broker down) or, in eager mode, a detection error is logged
    # and never turns a successful ingest into a failed one.
    transaction.on_commit(lambda: after_ingest.delay(run_id), robust=True)


def connect_receivers() -> None:
    ingest_succeeded.connect(queue_after_ingest, dispatch_uid="alerts-after-ingest")
