"""The ingest → detect → alert hook.

`ingest_succeeded` is sent by the billing app when an ingest run finishes successfully
(planner/billing/services.py: finish_run). Alerts listen to it and, once the run's transaction
has committed, queue `planner.alerts.tasks.after_ingest`: anomaly detection, anomaly alerts and
budget evaluation. Defined here (not in billing) so billing needs nothing from alerts beyond
this one import, and the receiver only exists when the alerts app is installed.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent with sender=IngestRun, run_id=<int>, account_id=<int | None>.
ingest_succeeded = Signal()


def queue_after_ingest(sender, run_id: int, account_id: int | None = None, **kwargs) -> None:
    from planner.alerts.tasks import after_ingest

    # robust: a failure to queue (broker down) or, in eager mode, a detection error is logged
    # and never turns a successful ingest into a failed one.
    transaction.on_commit(lambda: after_ingest.delay(run_id), robust=True)


def connect_receivers() -> None:
    ingest_succeeded.connect(queue_after_ingest, dispatch_uid="alerts-after-ingest")
