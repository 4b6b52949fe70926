"""Open billing files from a local path or ``s3://bucket/key`` as byte streams.

Nothing here downloads a whole object: :meth:`Source.open_stream` gives a sequential
stream (S3: the ``GetObject`` streaming body), :meth:`Source.open_random_access` a
seekable file that fetches byte ranges on demand (S3: ranged ``GetObject`` with an
8 MiB read-ahead), which is what Parquet needs to read its footer and row groups.

S3 reads go through the AWS client module (:class:`ingest.aws.client.AwsClient`): the SDK's
default credential chain, connect/read timeouts, throttling and 5xx retried with backoff,
auth failures and missing objects raised at once. ``storage_options`` give either
``aws_client`` (an ``AwsClient``, e.g. a connector's) or any of ``endpoint_url``,
``region_name`` and ``timeout_s`` (the caller's external-call timeout; ingest reads no
settings). Without ``endpoint_url``, boto3's own ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``
apply (so tests and S3-compatible stores need no code change).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

READ_AHEAD_BYTES = 8 * 1024 * 1024


class CountingStream(io.RawIOBase):
    """Read-only wrapper that counts the bytes read through it (for progress bars)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        return n

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


class Source:
    """A billing file somewhere; ``name`` is what error messages call it."""

    name: str
    size: int | None

    def head(self, n: int) -> bytes:
        raise NotImplementedError

    def open_stream(self) -> BinaryIO:
        raise NotImplementedError

    def open_random_access(self) -> BinaryIO:
        raise NotImplementedError


class LocalSource(Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        if path.is_dir():
            raise IsADirectoryError(f"{path}: is a directory, expected a FOCUS CSV or Parquet file")
        self.size = path.stat().st_size

    def head(self, n: int) -> bytes:
        with open(self.path, "rb") as f:
            return f.read(n)

    def open_stream(self) -> BinaryIO:
        return open(self.path, "rb")

    def open_random_access(self) -> BinaryIO:
        return open(self.path, "rb")


#: The ``storage_options`` an S3 read understands (besides ``aws_client``).
S3_OPTIONS = frozenset({"endpoint_url", "region_name", "timeout_s"})


def s3_reader(storage_options: dict[str, Any] | None = None) -> Any:
    """The :class:`~ingest.aws.client.AwsClient` that performs an S3 read."""
    from .aws.client import AwsClient
    from .errors import StoreConfigError
    from .retry import RetryPolicy

    options = dict(storage_options or {})
    given = options.pop("aws_client", None)
    if given is not None:
        return given
    unknown = sorted(set(options) - S3_OPTIONS)
    if unknown:
        raise StoreConfigError(
            f"unknown S3 storage option(s) {', '.join(unknown)}; "
            f"use aws_client or {', '.join(sorted(S3_OPTIONS))}"
        )
    timeout_s = options.get("timeout_s")
    policy = RetryPolicy() if timeout_s is None else RetryPolicy(timeout_s=float(timeout_s))
    return AwsClient(
        region=options.get("region_name"), endpoint_url=options.get("endpoint_url"), policy=policy
    )


class S3RangeFile(io.RawIOBase):
    """Seekable read-only view of an S3 object using ranged GETs and a read-ahead buffer."""

    def __init__(self, aws: Any, bucket: str, key: str, size: int) -> None:
        self._aws, self._bucket, self._key, self._size = aws, bucket, key, size
        self._pos = 0
        self._buf_start = 0
        self._buf = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _fetch(self, start: int, length: int) -> bytes:
        end = min(self._size, start + length) - 1
        if end < start:
            return b""
        return self._aws.get_object_range(self._bucket, self._key, start, end)

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        in_buf = self._buf_start <= self._pos and self._pos + want <= self._buf_start + len(
            self._buf
        )
        if not in_buf:
            if want >= READ_AHEAD_BYTES:
                data = self._fetch(self._pos, want)
                buffer[: len(data)] = data
                self._pos += len(data)
                return len(data)
            self._buf_start, self._buf = self._pos, self._fetch(self._pos, READ_AHEAD_BYTES)
        off = self._pos - self._buf_start
        data = self._buf[off : off + want]
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def readall(self) -> bytes:
        data = self._fetch(self._pos, self._size - self._pos)
        self._pos = self._size
        return data


class S3Source(Source):
    """An ``s3://bucket/key`` object; ``aws`` is the AwsClient that reads it, ``client`` its
    boto3 S3 client. A missing object raises ``ObjectNotFoundError`` (a FileNotFoundError)."""

    def __init__(self, uri: str, storage_options: dict[str, Any] | None = None) -> None:
        self.name = uri
        rest = uri[len("s3://") :]
        bucket, _, key = rest.partition("/")
        if not bucket or not key:
            raise ValueError(f"{uri}: expected s3://bucket/key")
        self.bucket, self.key = bucket, key
        self.aws = s3_reader(storage_options)
        self.client = self.aws.client("s3")
        self.size = int(self.aws.head_object(bucket, key)["ContentLength"])

    def head(self, n: int) -> bytes:
        if self.size == 0:
            return b""
        return bytes(self.aws.get_object_range(self.bucket, self.key, 0, n - 1))

    def open_stream(self) -> BinaryIO:
        return self.aws.open_object(self.bucket, self.key)  # type: ignore[no-any-return]

    def open_random_access(self) -> BinaryIO:
        return io.BufferedReader(S3RangeFile(self.aws, self.bucket, self.key, self.size or 0))  # type: ignore[return-value]


def open_source(source: str | Path, storage_options: dict[str, Any] | None = None) -> Source:
    """A :class:`Source` for a local path or an ``s3://bucket/key`` URI."""
    text = str(source)
    if text.startswith("s3://"):
        return S3Source(text, storage_options)
    if text.split("://", 1)[0].lower() in ("gs", "gcs", "abfs", "abfss", "az"):
        from .objectstore import ObjectSource  # Google Cloud Storage, Azure Blob (pyarrow.fs)

        return ObjectSource(text)  # type: ignore[return-value]
    if "://" in text:
        raise ValueError(
            f"{text}: unsupported URI scheme; use a local path, s3://, gs:// or abfs://"
        )
    return LocalSource(Path(text).expanduser())
