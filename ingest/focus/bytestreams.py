"""Byte streams under the FOCUS reader: gzip decompression bounded in size (a decompression
bomb stops at the limit, without the memory the inflated data would take) and a stream that
replays the header bytes already read before continuing."""

from __future__ import annotations

import contextlib
import gzip
import io
from typing import Any

from .errors import DecompressionLimitError

#: Default cap on the decompressed size of one gzip file (callers pass their own setting;
#: Headroom's is ``HEADROOM_FOCUS_MAX_DECOMPRESSED_MB``).
DEFAULT_MAX_DECOMPRESSED_BYTES = 50 * 1024**3


class BoundedStream(io.RawIOBase):
    """Passes reads through, raising :class:`DecompressionLimitError` once more than
    ``limit_bytes`` have come out (overshoot is at most one read's buffer)."""

    def __init__(self, raw: Any, limit_bytes: int) -> None:
        self._raw, self.limit_bytes, self.bytes_out = raw, limit_bytes, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        self.bytes_out += n
        if self.bytes_out > self.limit_bytes:
            raise DecompressionLimitError(self.limit_bytes)
        buffer[:n] = data
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._raw.close()
        super().close()


def gunzip_bounded(
    raw: Any, limit_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
) -> io.BufferedReader:
    """A gzip stream's decompressed bytes, refusing (``DecompressionLimitError``) past
    ``limit_bytes``."""
    return io.BufferedReader(BoundedStream(gzip.GzipFile(fileobj=raw), limit_bytes), 1 << 20)


class PrefixedStream(io.RawIOBase):
    """Replays already-read bytes, then continues with the underlying stream."""

    def __init__(self, prefix: bytes, rest: Any) -> None:
        self._prefix, self._rest = prefix, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
