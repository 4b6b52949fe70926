"""Stream any FOCUS 1.0-1.4 file as validated canonical FOCUS 1.4 record batches.

>>> stream = open_focus("export.csv.gz")          # doctest: +SKIP
>>> stream.version                                 # header checked already
'1.0'
>>> for batch in stream: ...                       # pyarrow.RecordBatch, CANONICAL_SCHEMA

Formats are recognised from the first bytes (``PAR1`` Parquet, ``1f 8b`` gzip, else
CSV). CSV is parsed block by block with ``pyarrow.csv.open_csv`` (every column read as
text; the literal ``NULL`` and empty fields are nulls); Parquet with
``ParquetFile.iter_batches``. Memory stays bounded by a few batches whatever the file
size. Batches hold exactly ``batch_rows`` rows except the last.

A Parquet file that declares its release in its key-value metadata (``FocusVersion``,
``focus_version``) is read as that release; one newer than 1.4 is refused, naming it.

Errors: the header is checked when the stream is opened (every missing mandatory or
duplicate column at once); bad values raise :class:`FocusValidationError` at the batch
that holds them, with exact 1-based data row numbers.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from ..sources import CountingStream, Source, open_source
from .bytestreams import DEFAULT_MAX_DECOMPRESSED_BYTES, PrefixedStream, gunzip_bounded
from .errors import (
    DecompressionLimitError,
    FocusError,
    FocusValidationError,
    _size,
)
from .file_problems import (
    corrupt_gzip_error,
    decompression_limit_error,
    file_error,
    locate_csv_problems,
    parse_csv_header,
)
from .normalise import BatchNormaliser
from .schema import CANONICAL_SCHEMA, check_header

CSV_BLOCK_BYTES = 8 * 1024 * 1024
#: The header row must end within this many (decompressed) bytes: a FOCUS header is a few
#: kilobytes, and reading on until a newline let a 200 KB gzip file inflate to 200 MiB.
HEADER_PROBE_BYTES = 1024 * 1024


def open_focus(
    source: str | Path,
    *,
    batch_rows: int = 100_000,
    allow_mixed_currency: bool = False,
    storage_options: dict[str, Any] | None = None,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> FocusStream:
    """Open a FOCUS CSV (plain or gzip) or Parquet file, local or ``s3://bucket/key``.

    Raises :class:`FocusValidationError` at once for an empty file, a file that is not
    FOCUS, unreadable Parquet, duplicate or missing mandatory columns, a header row longer
    than :data:`HEADER_PROBE_BYTES`, and Parquet column types that cannot be cast;
    ``FileNotFoundError`` if the file does not exist. A gzip file (or Parquet data) larger
    than ``max_decompressed_bytes`` once decompressed raises ``FocusValidationError`` naming
    the limit, when the reader gets there.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    return FocusStream(
        open_source(source, storage_options),
        batch_rows=batch_rows,
        allow_mixed_currency=allow_mixed_currency,
        max_decompressed_bytes=max_decompressed_bytes,
    )


class FocusStream:
    """Iterable of canonical FOCUS 1.4 ``pyarrow.RecordBatch`` from one file (single pass).

    Attributes: ``version`` (FOCUS release detected from the header), ``source`` (path or
    URI), ``format`` (``csv``, ``csv.gz`` or ``parquet``), ``columns`` (header as read),
    ``rows_read`` (data rows yielded so far), ``warnings`` (complete once iteration
    ends), ``bytes_total`` (file size in bytes, compressed for gzip; ``None`` if unknown)
    and ``bytes_read`` (bytes consumed so far, for progress bars).
    """

    schema = CANONICAL_SCHEMA

    def __init__(
        self,
        src: Source,
        *,
        batch_rows: int,
        allow_mixed_currency: bool,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
    ) -> None:
        self._src = src
        self.max_decompressed_bytes = max_decompressed_bytes
        self.source = src.name
        self.batch_rows = batch_rows
        self.rows_read = 0
        self.warnings: list[str] = []
        self.bytes_total = src.size
        self._counter: CountingStream | None = None
        self._parquet: pq.ParquetFile | None = None
        self._csv_reader: Any = None
        self._started = False
        if src.size == 0:
            raise file_error(
                self.source, "the file is empty (0 bytes)", "a FOCUS CSV or Parquet file"
            )
        magic = src.head(4)
        if magic == b"PAR1":
            self.format = "parquet"
            self._open_parquet()
        else:
            self.format = "csv.gz" if magic[:2] == b"\x1f\x8b" else "csv"
            self._open_csv()
        self._normaliser = BatchNormaliser(
            self._input_schema,
            self.version,
            self.source,
            allow_mixed_currency=allow_mixed_currency,
            null_strings=self.format == "parquet",
        )

    # -- opening -------------------------------------------------------------------
    def _open_parquet(self) -> None:
        try:
            handle = self._src.open_random_access()
            footer = pq.ParquetFile(handle)
            schema = footer.schema_arrow
            # Text columns stay dictionary-encoded as stored: decoding is ~5x faster and
            # needs a third of the memory, and checks run once per distinct value. No
            # pre-buffering: column chunks stream through a 4 MiB buffer (lower peak memory
            # on large row groups, no slower on local disks).
            text = [f.name for f in schema if pa.types.is_string(f.type)]
            self._parquet = pq.ParquetFile(
                handle,
                metadata=footer.metadata,
                read_dictionary=text,
                pre_buffer=False,
                buffer_size=4 << 20,
            )
        except (pa.ArrowException, OSError) as exc:
            raise file_error(
                self.source,
                f"not a readable Parquet file ({exc})",
                "a complete Parquet file",
                "The file looks damaged or truncated; download or export it again.",
            ) from exc
        meta = footer.metadata
        inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if inflated > self.max_decompressed_bytes:
            raise self._limit_error(DecompressionLimitError(self.max_decompressed_bytes))
        self.columns = list(schema.names)
        declared = declared_version(footer.metadata.metadata)
        self.version = check_header(self.columns, self.source, declared)
        self._input_schema = schema

    def _text_stream(self) -> tuple[Any, CountingStream]:
        counter = CountingStream(self._src.open_stream())
        if self.format == "csv.gz":
            return gunzip_bounded(io.BufferedReader(counter), self.max_decompressed_bytes), counter
        return io.BufferedReader(counter, buffer_size=1 << 20), counter

    def _open_csv(self) -> None:
        stream, self._counter = self._text_stream()
        prefix = b""
        try:
            while b"\n" not in prefix and len(prefix) < HEADER_PROBE_BYTES:
                more = stream.read(HEADER_PROBE_BYTES - len(prefix))
                if not more:
                    break
                prefix += more
        except DecompressionLimitError as exc:
            stream.close()
            raise self._limit_error(exc) from None
        except (EOFError, OSError, zlib.error) as exc:
            stream.close()
            raise self._gzip_error(exc) from exc
        if b"\n" not in prefix and len(prefix) >= HEADER_PROBE_BYTES:
            stream.close()
            raise file_error(
                self.source,
                f"no line break in the first {_size(HEADER_PROBE_BYTES)}"
                f"{' (decompressed)' if self.format == 'csv.gz' else ''}: the header row of "
                "a FOCUS CSV file is a few kilobytes, so this is not one",
                f"a header row shorter than {_size(HEADER_PROBE_BYTES)}",
            )
        if not prefix.strip():
            raise file_error(
                self.source,
                "the file has no content (no header row)",
                "a header row of FOCUS column names",
            )
        header = self._parse_header(prefix)
        self.columns = header
        self.version = check_header(header, self.source)
        self._input_schema = pa.schema([pa.field(n, pa.string()) for n in header])
        self._csv_stream = PrefixedStream(prefix, stream)
        try:
            self._csv_reader = pcsv.open_csv(
                io.BufferedReader(self._csv_stream, buffer_size=1 << 20),
                # Our own (trimmed, BOM-free) names; skip the header row itself.
                read_options=pcsv.ReadOptions(
                    block_size=CSV_BLOCK_BYTES, column_names=header, skip_rows=1
                ),
                parse_options=pcsv.ParseOptions(newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in header},
                    null_values=["NULL", ""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except DecompressionLimitError as exc:
            raise self._limit_error(exc) from None
        except (EOFError, OSError, zlib.error) as exc:
            raise self._gzip_error(exc) from exc
        except pa.ArrowInvalid as exc:
            raise self._csv_error(exc) from exc

    def _parse_header(self, prefix: bytes) -> list[str]:
        return parse_csv_header(prefix, self.source)

    # -- errors --------------------------------------------------------------------
    def _limit_error(self, exc: DecompressionLimitError) -> Exception:
        return decompression_limit_error(self.source, exc, self.rows_read)

    def _gzip_error(self, exc: BaseException) -> Exception:
        return corrupt_gzip_error(self.source, exc, self.rows_read)

    def _csv_error(self, exc: BaseException) -> Exception:
        """Find the exact rows behind a CSV parse error by re-scanning the file."""
        errors = locate_csv_problems(self._text_stream()[0], self.source, len(self.columns))
        if not errors:
            errors = [
                FocusError(
                    self.source,
                    None,
                    None,
                    None,
                    "well-formed CSV",
                    f"CSV parse error after row {self.rows_read}: {exc}",
                )
            ]
        return FocusValidationError(errors, hint="Repair the CSV rows listed and retry.")

    # -- iteration -------------------------------------------------------------------
    @property
    def bytes_read(self) -> int | None:
        if self._counter is not None:
            return self._counter.bytes_read
        if self._parquet is not None and self.bytes_total:
            total = self._parquet.metadata.num_rows or 1
            return int(self.bytes_total * min(1.0, self.rows_read / total))
        return None

    def _raw_csv(self) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = self._csv_reader.read_next_batch()
            except StopIteration:
                return
            except DecompressionLimitError as exc:
                raise self._limit_error(exc) from None
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise self._gzip_error(exc) from exc
            except pa.ArrowInvalid as exc:
                raise self._csv_error(exc) from exc
            yield batch

    def _raw_parquet(self) -> Iterator[pa.RecordBatch]:
        assert self._parquet is not None
        it = self._parquet.iter_batches(batch_size=self.batch_rows, use_threads=True)
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as exc:
                raise file_error(
                    self.source,
                    f"Parquet data after row {self.rows_read} cannot be read ({exc})",
                    "a complete Parquet file",
                    "The file looks damaged or truncated; download or export it again.",
                ) from exc
            yield batch

    def _rechunked(self) -> Iterator[pa.RecordBatch]:
        raw = self._raw_parquet() if self._parquet is not None else self._raw_csv()
        pending: list[pa.RecordBatch] = []
        count = 0
        for batch in raw:
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            count += batch.num_rows
            while count >= self.batch_rows:
                table = pa.Table.from_batches(pending).unify_dictionaries()
                yield from table.slice(0, self.batch_rows).combine_chunks().to_batches()
                rest = table.slice(self.batch_rows)
                pending = [b for b in rest.to_batches() if b.num_rows]
                count -= self.batch_rows
        if count:
            yield from (
                pa.Table.from_batches(pending).unify_dictionaries().combine_chunks().to_batches()
            )

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._iterate(keep_dictionaries=False)

    def iter_encoded(self) -> Iterator[pa.RecordBatch]:
        """Iterate like ``iter(stream)``, but text columns come as ``dictionary<int32,
        string>`` (schema :func:`~ingest.focus.normalise.encoded_schema`; same values).
        For consumers that can use the encoding, e.g. to write Parquet without re-encoding."""
        return self._iterate(keep_dictionaries=True)

    def _iterate(self, *, keep_dictionaries: bool) -> Iterator[pa.RecordBatch]:
        if self._started:
            raise RuntimeError("a FocusStream can be iterated only once; open the file again")
        self._started = True
        try:
            for raw in self._rechunked():
                out = self._normaliser.normalise(
                    raw, self.rows_read + 1, keep_dictionaries=keep_dictionaries
                )
                self.rows_read += raw.num_rows
                yield out
        finally:
            self.close()
        if self.rows_read == 0:
            raise file_error(
                self.source,
                "the file has a header but no billing rows",
                "at least one data row",
            )
        self.warnings.extend(self._normaliser.finish())

    def close(self) -> None:
        """Release the underlying file or HTTP stream (iteration does this at the end)."""
        for obj in (getattr(self, "_csv_stream", None), self._counter):
            if obj is not None:
                with contextlib.suppress(Exception):  # closing must not mask the real error
                    obj.close()

    def __enter__(self) -> FocusStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_all(self) -> pa.Table:
        """All batches as one table (convenience for small files and tests)."""
        return pa.Table.from_batches(list(self), schema=CANONICAL_SCHEMA)


def declared_version(metadata: dict[bytes, bytes] | None) -> str | None:
    """The FOCUS release a Parquet file's key-value metadata declares, if any."""
    for key, value in (metadata or {}).items():
        name = key.decode("utf-8", "replace").lower().replace("_", "").replace("-", "")
        if name in {"focusversion", "focus.version"}:
            return value.decode("utf-8", "replace")
    return None
