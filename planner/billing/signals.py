"""Signals the billing app sends.

``ingest_succeeded`` is sent when an ingest run finishes successfully
(:func:`planner.billing.services.finish_run`), with ``sender=IngestRun``, ``run_id=<int>`` and
``account_id=<int | None>``. The alerts app listens (planner/alerts/signals.py) to run anomaly
detection and budget evaluation once the run's transaction has committed.
"""

from __future__ import annotations

from django.dispatch import Signal

ingest_succeeded = Signal()
