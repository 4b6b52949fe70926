"""One export mechanism for every table: CSV (formula-safe, see csv.py) or Parquet.

A page that shows a table builds ``(header, rows)`` once and answers ``?export=csv`` or
``?export=parquet`` with :func:`table_response`; its template links both with the
``_export_links.html`` include. The Parquet file keeps types: numbers stay numbers (Decimal
as decimal128), dates stay dates; a column mixing types is written as text.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from django.http import HttpResponse, StreamingHttpResponse

from planner.api.csv import csv_response

FORMATS = ("csv", "parquet")


def requested_format(request) -> str | None:
    fmt = (request.GET.get("export") or "").lower()
    return fmt if fmt in FORMATS else None


def _safe(name: str) -> str:
    return "".join(ch for ch in name if ch.isalnum() or ch in "-_.") or "export"


def _column(values: list) -> pa.Array:
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if kinds and kinds <= {int, float, Decimal} and Decimal in kinds:
        values = [None if v is None else float(v) for v in values]
    elif kinds and not (kinds <= {int, float} or len(kinds) == 1):
        values = [None if v is None else str(v) for v in values]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def parquet_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    rows = [list(r) for r in rows]
    columns = {h: _column([r[i] for r in rows]) for i, h in enumerate(header)}
    table = pa.table(columns) if rows else pa.table({h: pa.array([], pa.string()) for h in header})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    return buf.getvalue()


def table_response(
    fmt: str, basename: str, header: Sequence[str], rows: Iterable[Sequence]
) -> HttpResponse | StreamingHttpResponse:
    """The table as a download: ``fmt`` is ``csv`` or ``parquet``."""
    name = _safe(basename)
    if fmt == "csv":
        return csv_response(f"{name}.csv", header, rows)
    if fmt == "parquet":
        resp = HttpResponse(
            parquet_bytes(header, rows), content_type="application/vnd.apache.parquet"
        )
        resp["Content-Disposition"] = f'attachment; filename="{name}.parquet"'
        return resp
    raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def cell(value):
    """A value as a table cell for export (dates and numbers kept, the rest as text)."""
    if value is None or isinstance(value, int | float | Decimal | dt.date | str | bool):
        return value
    return str(value)
