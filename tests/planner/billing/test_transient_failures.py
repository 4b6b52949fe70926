"""A transient failure under a running ingest (here: the database connection terminated, as
PostgreSQL reports it) leaves the run for the task's retry unless it was the last attempt; the
last attempt records it. Before, a FOCUS-file run was marked failed on the first attempt while
Celery still retried it, and the retry then found a failed run it could not claim."""

from __future__ import annotations

import pytest
from django import db

from ingest.retry import TransientError
from planner.billing.models import IngestRun, RunSource, RunStatus
from planner.billing.runs import execute_run
from planner.billing.services import claim_run
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def _terminated(run):
    raise db.OperationalError("terminating connection due to administrator command")


def _queued_run() -> IngestRun:
    return IngestRun.objects.create(
        account=make_account(), source=RunSource.FOCUS_FILE, status=RunStatus.QUEUED
    )


def test_before_the_last_attempt_the_run_waits_for_the_retry():
    run = _queued_run()
    with pytest.raises(TransientError, match="terminating connection"):
        execute_run(run.pk, _terminated, final_attempt=False)
    run.refresh_from_db()
    assert (run.status, run.attempts, run.errors) == (RunStatus.RUNNING, 1, [])
    assert claim_run(run.pk, redelivered=True)  # the retry takes it over at once
    assert IngestRun.objects.get(pk=run.pk).attempts == 2


def test_the_last_attempt_records_the_failure():
    run = _queued_run()
    stored = execute_run(run.pk, _terminated, final_attempt=True)
    assert stored.status == RunStatus.FAILED
    assert "gave up after repeated transient failures" in stored.errors[0]
    assert not claim_run(run.pk, redelivered=True)  # finished: nothing left to retry
