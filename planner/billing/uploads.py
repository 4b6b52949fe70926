"""Where uploaded FOCUS files go: ``settings.UPLOAD_STORE`` — a local directory on a single
host, or the object store beside the line items (``s3://bucket/prefix/_uploads``) so that a
worker on another host can read what a web node received. The run keeps the file's path or URI;
the FOCUS reader opens either."""

from __future__ import annotations

import uuid

from django.conf import settings

from ingest.objectstore import Location, copy_stream, open_location

_LOCATIONS: dict[tuple, Location] = {}


def upload_location() -> Location:
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


def save_upload(uploaded) -> str:
    """Store a Django UploadedFile under a random name (never the client's) and return the
    path or URI an ingest run reads it from. Streams chunk by chunk (S3: multipart upload)."""
    loc = upload_location()
    path = loc.path(f"{uuid.uuid4().hex}{suffix_for(uploaded.name)}")
    copy_stream(uploaded.chunks(), loc, path)
    return loc.uri(path)
