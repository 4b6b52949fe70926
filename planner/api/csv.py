"""CSV export that spreadsheets cannot turn into formulas (CSV / formula injection, CWE-1236).

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets. Such text cells are prefixed with a single quote
(OWASP's advice), which the spreadsheet shows but does not evaluate. Numbers (int, float,
Decimal) are written as numbers, so a negative cost stays ``-12.5`` and sums still work.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.http import StreamingHttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value) -> str | int | float | Decimal:
    """One cell as written to CSV: numbers unchanged, dangerous text quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """Yield the CSV text line by line (header first), every cell escaped."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in ([escape_cell(h) for h in header], *([escape_cell(c) for c in r] for r in rows)):
        writer.writerow(row)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    return "".join(csv_lines(header, rows))


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence]
) -> StreamingHttpResponse:
    """A streamed text/csv download (bounded memory for large exports)."""
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "-_.") or "export.csv"
    resp = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{safe}"'
    return resp
