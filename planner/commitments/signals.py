"""After a successful ingest, register the commitments its periods' line items name (after
commit)."""

from __future__ import annotations

from django.db import transaction

from planner.billing.signals import ingest_succeeded


def queue_sync(sender, run_id: int, account_id: int | None = None, **kwargs) -> None:
    from planner.commitments.tasks import sync_commitments

    transaction.on_commit(lambda: sync_commitments.delay(run_id), robust=True)


def connect_receivers() -> None:
    ingest_succeeded.connect(queue_sync, dispatch_uid="commitments-sync-after-ingest")
