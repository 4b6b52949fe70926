"""One ingest executor for every source: claim the run, read, load atomically, record.

A *reader* turns a claimed run into a :class:`RunInput` (a FOCUS file, or one account × period
from a connector); :func:`execute_run` does the rest and classifies failures the same way for
all of them:

* authentication (:class:`ingest.errors.AuthError`, SDK auth codes): recorded, not retried;
* transient (throttling, outages, timeouts): re-raised as :class:`TransientError` for the task
  to retry, unless ``final_attempt``, when it is recorded;
* bad data (:class:`IngestError`, :class:`LoadError`, unreadable Arrow data, ``OSError``):
  recorded with every problem found;
* anything else is a bug: recorded as "unexpected ..." and re-raised, so it is seen.

Errors never leave previously loaded periods changed (each period is replaced atomically).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
from django.conf import settings

from ingest.errors import ConnectorError, IngestError, TransientError
from ingest.retry import classify
from planner.billing.errors import LoadError
from planner.billing.loader import LoadResult, load_batches
from planner.billing.models import IngestRun
from planner.billing.services import claim_run, finish_run, progress_reporter, run_lease
from planner.core.credentials import scrub
from planner.core.import_paths import ImportPathError, resolve_focus_source

log = logging.getLogger(__name__)


@dataclass
class RunInput:
    """What a reader found for a run. ``warnings`` is called after loading (a stream's
    warnings grow while it is read); ``skip`` set means nothing to load, with that reason."""

    batches: Iterable[pa.RecordBatch] = ()
    warnings: Callable[[], list[str]] = list
    bytes_progress: Callable[[], tuple[int, int]] | None = None
    source_uri: str | None = None
    fingerprint: str | None = None
    skip: str | None = None
    #: set when the reader already stored the run's data itself (a supplemental FOCUS dataset)
    stored: object | None = None
    empty_message: str = "no billing records were read; nothing changed"


Reader = Callable[[IngestRun], RunInput]


def finish_without_load(run: IngestRun, message: str) -> None:
    finish_run(run, result=LoadResult(version=""), warnings=[message])
    IngestRun.objects.filter(pk=run.pk).update(progress_message=message[:300])


def is_final_attempt(task) -> bool:
    """Whether a bound Celery task's current attempt is its last: a transient failure is then
    recorded on the run instead of re-raised for a retry. Eager mode (no broker) that propagates
    errors cannot retry either: celery's Retry would reach the "run now" request as a 500."""
    eager_no_retry = bool(task.request.is_eager) and bool(task.app.conf.task_eager_propagates)
    return task.request.retries >= task.max_retries or eager_no_retry


def execute_run(
    run_id: int,
    reader: Reader,
    *,
    redelivered: bool = False,
    final_attempt: bool = True,
    progress: Callable[[int], None] | None = None,
) -> IngestRun:
    """Claim the run, read it with ``reader``, load it; returns the run as stored."""
    if not claim_run(run_id, redelivered=redelivered):
        return IngestRun.objects.get(pk=run_id)
    with run_lease(run_id):  # renewed while this worker lives (services.run_lease)
        return _execute_claimed(run_id, reader, final_attempt, progress)


def _execute_claimed(
    run_id: int,
    reader: Reader,
    final_attempt: bool,
    progress: Callable[[int], None] | None,
) -> IngestRun:
    run = IngestRun.objects.select_related("account").get(pk=run_id)
    try:
        read = reader(run)
        if read.source_uri is not None:
            IngestRun.objects.filter(pk=run.pk).update(
                source_uri=read.source_uri[:1000], fingerprint=(read.fingerprint or "")[:128]
            )
        if read.skip:
            finish_without_load(run, read.skip)
            return IngestRun.objects.get(pk=run_id)
        if read.stored is not None:
            finish_run(run, result=read.stored, warnings=list(read.warnings()))
            return IngestRun.objects.get(pk=run_id)
        batches = read.batches
        if not callable(getattr(batches, "iter_encoded", None)):  # keep a FocusStream whole
            rest = iter(batches)
            first = next(rest, None)
            if first is None:
                finish_without_load(run, read.empty_message)
                return IngestRun.objects.get(pk=run_id)
            batches = itertools.chain([first], rest)
        report = progress_reporter(run, read.bytes_progress)

        def on_progress(rows: int) -> None:
            report(rows)
            if progress:
                progress(rows)

        result = load_batches(batches, run.account, run=run, progress=on_progress)
        finish_run(run, result=result, warnings=list(read.warnings()))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
        _record_failure(run, exc, final_attempt)
    return IngestRun.objects.get(pk=run_id)


def _record_failure(run: IngestRun, exc: Exception, final_attempt: bool) -> None:
    kind = classify(exc)
    if kind == "auth":
        finish_run(run, error=f"authentication failed, not retried: {exc}")
    elif kind == "transient":
        if not final_attempt:
            log.warning(
                "run %s: transient failure, the task will retry: %s", run.pk, scrub(str(exc))
            )
            if isinstance(exc, TransientError):
                raise exc
            raise TransientError(scrub(f"{type(exc).__name__}: {exc}")) from exc
        finish_run(run, error=f"gave up after repeated transient failures: {exc}")
    elif isinstance(exc, ImportPathError):
        message = str(exc)
        finish_run(run, error=f"{message[:1].upper()}{message[1:]}.")
    elif isinstance(exc, (IngestError, LoadError, pa.ArrowInvalid, OSError)):
        errors = [str(e) for e in getattr(exc, "errors", [])] or [f"{type(exc).__name__}: {exc}"]
        finish_run(run, errors=errors)
    else:
        message = f"unexpected {type(exc).__name__}: {exc}"
        finish_run(run, error=message)
        if scrub(message) != message:  # the traceback would carry a credential value
            raise ConnectorError(scrub(message)) from None
        raise exc


def object_read_options() -> dict[str, float]:
    """``storage_options`` for reading a FOCUS file or dataset by URI: an s3:// object is read
    through the AWS client module with ``settings.EXTERNAL_CALL_TIMEOUT_S`` (local paths and
    other stores ignore them)."""
    return {"timeout_s": settings.EXTERNAL_CALL_TIMEOUT_S}


def focus_file_reader(allow_mixed_currency: bool = False) -> Reader:
    """Reads the run's FOCUS file (path or s3://), validating as it streams."""

    def read(run: IngestRun) -> RunInput:
        from ingest.focus.errors import NotFocusError
        from ingest.focus.reader import open_focus
        from planner.commitments.datasets import load_supplemental

        # below HEADROOM_IMPORT_DIR (links followed) or an upload, else ImportPathError
        source = resolve_focus_source(run.source_uri, allow_uploads=True)
        try:
            stream = open_focus(
                source,
                allow_mixed_currency=allow_mixed_currency or run.allow_mixed_currency,
                max_decompressed_bytes=settings.FOCUS_MAX_DECOMPRESSED_BYTES,
                storage_options=object_read_options(),
            )
        except NotFocusError:
            # not cost and usage: maybe a Contract Commitment, Billing Period or Invoice Detail
            # dataset, which the commitments app validates and stores (its errors name the row)
            loaded = load_supplemental(source, run.account)
            if loaded is None:
                raise
            return RunInput(stored=loaded, warnings=lambda: list(loaded.warnings))
        return RunInput(
            batches=stream,
            warnings=lambda: list(getattr(stream, "warnings", [])),
            bytes_progress=lambda: (
                getattr(stream, "bytes_read", 0) or 0,
                getattr(stream, "bytes_total", 0) or 0,
            ),
        )

    return read
