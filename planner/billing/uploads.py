"""The one acceptor of uploaded FOCUS files, for the web page and the API alike: the same
checks (extension, size) and the same storage (a random name under UPLOAD_DIR, never the
client's file name, readable by the owner only).

``LimitedUploadHandler`` runs first among the upload handlers: it stops a multipart upload as
soon as the files in it pass ``HEADROOM_MAX_UPLOAD_MB`` (or at once, when the declared
Content-Length already does), without reading the rest of the body, so an oversized upload
never fills the disk or the temporary directory. Views see ``request.upload_refused`` and
answer with the limit.

A stored upload is deleted when its run succeeds; a failed run's file is kept for
``HEADROOM_UPLOAD_KEEP_FAILED_DAYS`` days (to look into it), then :func:`purge_uploads`
deletes it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils import timezone

from ingest.objectstore import Location, copy_stream, open_location
from planner.billing.errors import UploadRefused

log = logging.getLogger(__name__)

MULTIPART_SLACK_BYTES = 64 * 1024  # boundaries, headers and form fields around the file


def upload_limit_bytes() -> int:
    return int(settings.HEADROOM_MAX_UPLOAD_MB) * 1024 * 1024


def limit_message(limit: int | None = None) -> str:
    limit = upload_limit_bytes() if limit is None else limit
    return (
        f"The upload is larger than the {limit // (1024 * 1024):,} MB limit "
        "(HEADROOM_MAX_UPLOAD_MB); it was not stored. Split the export or raise the limit."
    )


class LimitedUploadHandler(FileUploadHandler):
    """Counts file bytes as they arrive and aborts the upload past the limit."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = upload_limit_bytes()
        self.declared = content_length or 0
        self.received = 0

    def _refuse(self) -> None:
        self.request.upload_refused = limit_message(self.limit)
        log.warning("upload to %s refused: over %d bytes", self.request.path, self.limit)
        raise StopUpload(connection_reset=True)

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.declared > self.limit + MULTIPART_SLACK_BYTES:
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self._refuse()
        return raw_data  # the next handler stores it

    def file_complete(self, file_size):
        return None


SUFFIXES = (".csv", ".csv.gz", ".parquet", ".gz")


def check_upload(f) -> None:
    """Raise :class:`UploadRefused` for a file that is not a FOCUS export or is too large."""
    if not f.name.lower().endswith(SUFFIXES):
        raise UploadRefused("Upload a FOCUS export as .csv, .csv.gz or .parquet.")
    limit = settings.HEADROOM_MAX_UPLOAD_MB * 1024 * 1024
    if f.size > limit:
        raise UploadRefused(
            f"The file is {f.size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB."
        )


_LOCATIONS: dict[tuple, Location] = {}


def upload_location() -> Location:
    """``settings.UPLOAD_STORE``: a local directory on a single host, or the object store beside
    the line items (``s3://bucket/prefix/_uploads``) so that a worker on another host can read
    what a web node received."""
    key = (
        settings.UPLOAD_STORE,
        settings.LINE_ITEM_STORE_ENDPOINT,
        settings.LINE_ITEM_STORE_REGION,
    )
    if key not in _LOCATIONS:
        _LOCATIONS[key] = open_location(key[0], endpoint=key[1], region=key[2])
    return _LOCATIONS[key]


def suffix_for(name: str) -> str:
    name = name.lower()
    if name.endswith(".gz"):
        return ".csv.gz"
    return ".parquet" if name.endswith(".parquet") else ".csv"


def store_upload(upload, original_name: str | None = None) -> str:
    """Check an upload and store it under a random name (never the client's); returns the path
    or URI the ingest run reads. Locally the file is owner-only; in an object store it streams
    chunk by chunk (S3: multipart upload)."""
    check_upload(upload)
    name = f"{uuid.uuid4().hex}{suffix_for(original_name or upload.name)}"
    loc = upload_location()
    if loc.scheme:
        path = loc.path(name)
        copy_stream(upload.chunks(), loc, path)
        return loc.uri(path)
    directory = Path(loc.root)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    dest = directory / name
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return str(dest)


def _local_upload_dir() -> Path | None:
    """The local upload directory; None when uploads live in an object store (its lifecycle
    rule expires them, see the README's deployment guide)."""
    loc = upload_location()
    return None if loc.remote else Path(loc.root)


def is_upload(path: str) -> bool:
    directory = _local_upload_dir()
    if directory is None:
        return False
    try:
        resolved = Path(path).resolve()
        return directory.resolve() in resolved.parents
    except (OSError, ValueError):
        return False


def discard_after_run(source_uri: str, succeeded: bool) -> None:
    """Delete a run's uploaded file once it has loaded (failed ones wait for purge_uploads)."""
    if succeeded and source_uri and is_upload(source_uri):
        Path(source_uri).unlink(missing_ok=True)


def purge_uploads(now: dt.datetime | None = None) -> int:
    """Delete uploads whose runs finished: succeeded at once, failed after the keep period.
    Files of queued or running runs, and files no run names, younger than a day, stay."""
    from planner.billing.models import IngestRun, RunSource, RunStatus

    directory = _local_upload_dir()
    if directory is None or not directory.is_dir():
        return 0
    now = now or timezone.now()
    keep_failed = dt.timedelta(days=settings.UPLOAD_KEEP_FAILED_DAYS)
    runs = {
        Path(uri).name: (status, finished)
        for uri, status, finished in IngestRun.objects.filter(
            source=RunSource.FOCUS_FILE, source_uri__startswith=str(directory)
        ).values_list("source_uri", "status", "finished_at")
    }
    removed = 0
    for path in directory.iterdir():
        if not path.is_file():
            continue
        status, finished = runs.get(path.name, (None, None))
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
        if status == RunStatus.SUCCEEDED:
            expired = True
        elif status == RunStatus.FAILED:
            expired = (finished or modified) < now - keep_failed
        elif status is None:
            expired = modified < now - max(keep_failed, dt.timedelta(days=1))
        else:
            expired = False
        if expired:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
