"""The one acceptor of uploaded FOCUS files, for the web page and the API alike: the same
checks (extension, size) and the same storage (a random name under UPLOAD_DIR, never the
client's file name)."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

from planner.billing.errors import UploadRefused

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


def store_upload(f) -> Path:
    """Write a checked upload under UPLOAD_DIR with a random name; returns its path."""
    check_upload(f)
    name = f.name.lower()
    suffix = (
        ".csv.gz" if name.endswith(".gz") else (".parquet" if name.endswith(".parquet") else ".csv")
    )
    settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    dest = settings.UPLOAD_DIR / f"{uuid.uuid4().hex}{suffix}"
    with open(dest, "wb") as out:
        for chunk in f.chunks():
            out.write(chunk)
    return dest
