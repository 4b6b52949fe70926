"""What the FOCUS reader says when a file as a whole is wrong: empty, over the decompression
limit, corrupt gzip, an unreadable header, and the exact rows behind a CSV parse error."""

from __future__ import annotations

import csv
import io
import sys
import zlib
from typing import Any

from .errors import (
    MAX_ERRORS_PER_BATCH,
    DecompressionLimitError,
    FocusError,
    FocusValidationError,
    NotFocusError,
    _size,
    short_repr,
)


def file_error(
    source: str, message: str, expected: str, hint: str | None = None
) -> FocusValidationError:
    """An error about the whole file (no row, no column)."""
    return FocusValidationError([FocusError(source, None, None, None, expected, message)], hint)


def decompression_limit_error(
    source: str, exc: DecompressionLimitError, rows_read: int
) -> FocusValidationError:
    """The file inflated past its limit after ``rows_read`` rows."""
    return file_error(
        source,
        f"{exc} ({rows_read} rows had been read); Headroom stopped reading it",
        f"at most {_size(exc.limit_bytes)} of decompressed data",
        "Split the export into smaller files, or raise the limit "
        "(HEADROOM_FOCUS_MAX_DECOMPRESSED_MB) if the file is genuine.",
    )


def corrupt_gzip_error(source: str, exc: BaseException, rows_read: int) -> FocusValidationError:
    """The gzip data ended or broke after ``rows_read`` rows."""
    return file_error(
        source,
        f"the gzip data is truncated or corrupt ({exc}); {rows_read} rows had been read before it",
        "a complete gzip file",
        "Download or export the file again and retry.",
    )


def parse_csv_header(prefix: bytes, source: str) -> list[str]:
    """The trimmed column names of a CSV file's first row (a byte-order mark dropped)."""
    text = prefix.decode("utf-8", errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise NotFocusError(
            [
                FocusError(
                    source,
                    None,
                    None,
                    None,
                    "a CSV header",
                    "the file has no header row: it is empty apart from a byte-order mark or blank space",
                )
            ]
        )
    try:
        row = next(csv.reader(io.StringIO(text)))
    except (csv.Error, StopIteration) as exc:
        raise NotFocusError(
            [FocusError(source, None, None, None, "a CSV header", f"unreadable header: {exc}")]
        ) from exc
    return [c.strip() for c in row]


def locate_csv_problems(stream: Any, source: str, n_columns: int) -> list[FocusError]:
    """Rows with the wrong number of fields or invalid UTF-8, by a plain Python scan."""
    csv.field_size_limit(sys.maxsize)
    errors: list[FocusError] = []
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    row = 0
    header: list[str] = []
    try:
        for rec in reader:
            if not rec:
                continue
            if not header:
                header = rec
                continue
            row += 1
            if len(rec) != n_columns:
                errors.append(
                    FocusError(
                        source,
                        row,
                        None,
                        ",".join(rec)[:120],
                        f"{n_columns} fields, one per header column",
                        f"the row has {len(rec)} fields but the header has {n_columns} "
                        f"columns: {short_repr(','.join(rec), 60)}",
                    )
                )
            else:
                for name, value in zip(header, rec, strict=False):
                    if any("\udc80" <= ch <= "\udcff" for ch in value):
                        errors.append(
                            FocusError(
                                source,
                                row,
                                name.lstrip("\ufeff"),
                                value.encode("utf-8", "surrogateescape"),
                                "UTF-8 text",
                                f"{short_repr(value.encode('utf-8', 'surrogateescape'))} "
                                "contains bytes that are not valid UTF-8 (save the file as UTF-8)",
                            )
                        )
            if len(errors) >= MAX_ERRORS_PER_BATCH:
                break
    except (csv.Error, EOFError, OSError, zlib.error, DecompressionLimitError) as exc:
        errors.append(
            FocusError(source, row + 1, None, None, "well-formed CSV", f"CSV error: {exc}")
        )
    finally:
        stream.close()
    return errors
