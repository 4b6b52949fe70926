"""Where line items and uploads live: a local directory or an object store, through pyarrow.fs.

One URL selects the place (``LINE_ITEM_STORE``)::

    /var/lib/headroom/lineitems              local directory (the default, under var/)
    file:///var/lib/headroom/lineitems       the same
    s3://bucket/prefix                       Amazon S3 or any S3-compatible store (MinIO, Ceph)
    gs://bucket/prefix                       Google Cloud Storage
    abfs://container@account.dfs.core.windows.net/prefix   Azure Blob Storage / ADLS Gen2

Credentials come from each SDK's default chain (instance role, workload identity, managed
identity, ``AWS_ACCESS_KEY_ID`` …); none is ever stored. ``endpoint`` points S3 at an
S3-compatible server (``http://127.0.0.1:9000``); Google and Azure take arrow's URI query
options (``gs://bucket/prefix?endpoint_override=127.0.0.1:4443&scheme=http``).

Object stores have no atomic rename, so nothing here relies on one: the line-item store writes
every load to a fresh versioned prefix and the database's pointer decides which version is read
(see ``planner/billing/store.py``). This module does not import Django.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from .errors import StoreConfigError

REMOTE_SCHEMES = ("s3", "gs", "gcs", "abfs", "abfss", "az")


def is_remote(url: str | Path) -> bool:
    return urlsplit(str(url)).scheme.lower() in REMOTE_SCHEMES


@dataclass(frozen=True)
class Location:
    """A filesystem and the root path inside it. ``uri(path)`` gives a path back as a URL that
    :func:`open_location` (and the FOCUS reader) understand."""

    filesystem: pafs.FileSystem
    root: str
    scheme: str  # "" for local
    url: str

    @property
    def remote(self) -> bool:
        return bool(self.scheme)

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts) if parts else self.root

    def uri(self, path: str) -> str:
        return f"{self.scheme}://{path}" if self.scheme else path

    # small helpers over pyarrow.fs that behave the same on every backend ------------------
    def listdir(self, path: str) -> list[pafs.FileInfo]:
        """Direct children of `path` ([] when it does not exist)."""
        sel = pafs.FileSelector(path, recursive=False, allow_not_found=True)
        return self.filesystem.get_file_info(sel)

    def files(self, path: str, suffix: str = "") -> list[str]:
        """Every file below `path`, sorted ([] when it does not exist)."""
        sel = pafs.FileSelector(path, recursive=True, allow_not_found=True)
        return sorted(
            i.path
            for i in self.filesystem.get_file_info(sel)
            if i.type == pafs.FileType.File and i.path.endswith(suffix)
        )

    def exists(self, path: str) -> bool:
        return self.filesystem.get_file_info(path).type != pafs.FileType.NotFound

    def remove_tree(self, path: str) -> None:
        """Delete `path` and everything below it; nothing when it is already gone."""
        try:
            info = self.filesystem.get_file_info(path)
            if info.type == pafs.FileType.Directory:
                self.filesystem.delete_dir(path)
            elif info.type == pafs.FileType.File:
                self.filesystem.delete_file(path)
        except FileNotFoundError:
            pass

    def makedirs(self, path: str) -> None:
        """Local directories must exist before a file is opened in them; object stores have
        no directories (and creating marker objects would only cost requests)."""
        if not self.remote:
            self.filesystem.create_dir(path, recursive=True)

    def open_output(self, path: str) -> Any:
        self.makedirs(posixpath.dirname(path))
        return self.filesystem.open_output_stream(path, compression=None)  # bytes as given


def _s3(netloc_and_path: str, endpoint: str, region: str) -> pafs.S3FileSystem:
    options: dict[str, Any] = {"connect_timeout": 10, "request_timeout": 60}
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options["endpoint_override"] = parts.netloc
        options["scheme"] = parts.scheme or "https"
        options["region"] = region or "us-east-1"
    elif region:
        options["region"] = region
    else:  # real AWS: the bucket's own region (one HEAD request)
        bucket = netloc_and_path.split("/", 1)[0]
        try:
            options["region"] = pafs.resolve_s3_region(bucket)
        except OSError as exc:
            raise StoreConfigError(
                f"s3://{bucket}: cannot find the bucket's region: {exc}"
            ) from exc
    return pafs.S3FileSystem(**options)


def open_location(url: str | Path, *, endpoint: str = "", region: str = "") -> Location:
    """The filesystem and root for a store URL (see the module docstring)."""
    text = str(url).strip()
    if not text:
        raise StoreConfigError("the store URL is empty")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("", "file"):
        local = Path(parts.path if scheme == "file" else text).expanduser().resolve()
        return Location(pafs.LocalFileSystem(), local.as_posix(), "", text)
    if scheme not in REMOTE_SCHEMES:
        raise StoreConfigError(
            f"{text}: unsupported store scheme {scheme!r}; use a local path, s3://, gs:// or abfs://"
        )
    if not parts.netloc:
        raise StoreConfigError(f"{text}: no bucket or container named")
    if scheme == "s3":
        root = (parts.netloc + parts.path).rstrip("/")
        if parts.query:
            raise StoreConfigError(
                f"{text}: give S3 options through LINE_ITEM_STORE_ENDPOINT / _REGION, not the URL"
            )
        return Location(_s3(root, endpoint, region), root, "s3", text)
    try:
        fs, root = pafs.FileSystem.from_uri(text)
    except (ValueError, OSError) as exc:
        raise StoreConfigError(f"{text}: {exc}") from exc
    canonical = {"gcs": "gs", "abfss": "abfs", "az": "abfs"}.get(scheme, scheme)
    return Location(fs, root.rstrip("/"), canonical, text)


class ObjectSource:
    """A FOCUS file in an object store, for ``ingest.sources.open_source`` (gs://, abfs://;
    s3:// files keep boto3's reader). Sequential and random-access reads never download the
    whole object first."""

    def __init__(self, uri: str) -> None:
        self.name = uri
        self._loc = open_location(uri)
        info = self._loc.filesystem.get_file_info(self._loc.root)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"{uri}: no such object")
        if info.type == pafs.FileType.Directory:
            raise IsADirectoryError(f"{uri}: is a prefix, expected a FOCUS CSV or Parquet file")
        self.size = info.size

    def head(self, n: int) -> bytes:
        with self._loc.filesystem.open_input_file(self._loc.root) as f:
            return f.read(n)

    def open_stream(self) -> BinaryIO:
        return self._loc.filesystem.open_input_stream(self._loc.root, compression=None)  # type: ignore[no-any-return]

    def open_random_access(self) -> BinaryIO:
        return self._loc.filesystem.open_input_file(self._loc.root)  # type: ignore[no-any-return]


def copy_stream(chunks: Any, location: Location, path: str) -> int:
    """Write an iterable of byte chunks to `path` (S3: a multipart upload, so memory stays
    bounded). The object appears only when complete. Returns bytes written."""
    written = 0
    with location.open_output(path) as out:
        for chunk in chunks:
            out.write(chunk)
            written += len(chunk)
    return written


__all__ = [
    "Location",
    "ObjectSource",
    "StoreConfigError",
    "copy_stream",
    "is_remote",
    "open_location",
]
