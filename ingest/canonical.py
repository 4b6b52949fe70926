"""Shared by the cloud connectors: turn provider rows mapped to FOCUS names into canonical batches.

A connector's pure mapping module builds a ``dict`` of FOCUS column name -> values (plus
provider ``x_*`` extras) and hands it to :class:`CanonicalBatcher`, which runs the same
validation as FOCUS files (:class:`ingest.focus.normalise.BatchNormaliser`): types, allowed
values, period order, one currency. Bad provider data therefore fails with row and column,
exactly like a bad FOCUS file, and never reaches the loader.

Also here: :class:`PeriodRead` (what a connector returns for one billing period) and
:class:`ConnectionCheck` (one line of a "test connection" report).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .focus.normalise import BatchNormaliser
from .focus.schema import CANONICAL_SCHEMA


@dataclass
class ConnectionCheck:
    """One thing a connector tried to read; ``detail`` says what it found or what failed."""

    name: str
    ok: bool
    detail: str


@dataclass
class PeriodRead:
    """One billing period from a connector, ready for ``planner.billing.loader.load_batches``.

    ``batches`` is a single-pass iterable of canonical FOCUS batches; ``fingerprint``
    identifies the source version (e.g. manifest and object ETags) so an unchanged export is
    not reloaded, or is ``None`` when the source has none (APIs: always re-read).
    """

    period_start: dt.date
    source_uri: str
    batches: Iterable[pa.RecordBatch]
    fingerprint: str | None = None
    warnings: list[str] = field(default_factory=list)
    unchanged: bool = False


class ApiConnector:
    """A connector whose period is read from an API as a lazy stream of canonical batches (no
    fingerprint: APIs are always re-read). Subclasses say where a period comes from
    (`source_for`) and how its batches are made (`_batches`, which may add notes)."""

    def source_for(self, period_start: dt.date) -> str:
        raise NotImplementedError

    def _batches(
        self, period_start: dt.date, source: str, notes: list[str]
    ) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def read_period(
        self, period_start: dt.date, *, known_fingerprint: str | None = None
    ) -> PeriodRead:
        source = self.source_for(period_start)
        read = PeriodRead(period_start, source, iter(()))
        read.batches = self._batches(period_start, source, read.warnings)
        return read


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def tags_json(tags: Mapping[str, Any] | None) -> str | None:
    """Compact JSON object of non-empty tags, keys sorted; ``None`` when there are none."""
    if not tags:
        return None
    clean = {str(k): str(v) for k, v in tags.items() if k not in (None, "") and v is not None}
    return json.dumps(clean, sort_keys=True, separators=(",", ":")) if clean else None


class CanonicalBatcher:
    """Validates FOCUS-named columns into :data:`CANONICAL_SCHEMA` batches, tracking row numbers.

    ``source`` names the origin in error messages (e.g. ``s3://bucket/key`` or
    ``Cost Explorer 2024-09``); row numbers count across all batches of one source.
    """

    def __init__(self, source: str, version: str = "1.2") -> None:
        self.source = source
        self.version = version
        self.rows = 0
        self._normalisers: dict[tuple[str, ...], BatchNormaliser] = {}

    def batch(self, columns: Mapping[str, Any]) -> pa.RecordBatch:
        table = pa.table(
            {
                k: v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v)
                for k, v in columns.items()
            }
        )
        rb = table.combine_chunks().to_batches()
        raw = rb[0] if rb else pa.RecordBatch.from_pylist([], schema=table.schema)
        key = tuple(f"{f.name}:{f.type}" for f in raw.schema)
        normaliser = self._normalisers.get(key)
        if normaliser is None:
            normaliser = self._normalisers[key] = BatchNormaliser(
                raw.schema, self.version, self.source
            )
        out = normaliser.normalise(raw, self.rows + 1)
        self.rows += raw.num_rows
        return out

    def warnings(self) -> list[str]:
        notes: list[str] = []
        for n in self._normalisers.values():
            notes.extend(x for x in n.finish() if x not in notes)
        return notes


def empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=CANONICAL_SCHEMA)


def non_empty(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for b in batches:
        if b.num_rows:
            yield b
