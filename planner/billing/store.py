"""Line-item store: FOCUS billing records as Parquet, one directory per account × billing period.

Layout under ``LINE_ITEM_STORE``::

    account=<pk>/period=<YYYY-MM>/v=<version>/part-<n>.parquet   a loaded version
    _staging/<version>/account=<pk>/period=<YYYY-MM>/...           being written

A load writes a new version beside the current one; the database row `BillingPeriodLoad` says
which version is current and is switched in the same transaction as the rollups. Old versions
are removed only after that transaction commits, so readers never see a half-written period and
a crash at any point leaves the previous version current (orphans are swept by `sweep()`).
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def period_key(period_start: dt.date) -> str:
    return f"{period_start:%Y-%m}"


#: Parquet statistics (min/max per row group) only where readers filter: dates and the
#: dashboard's filter columns. Statistics on every text column cost ~30 % of write time.
STATISTICS_COLUMNS = (
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ServiceProviderName",
    "ServiceName",
    "ChargeCategory",
    "PricingCategory",
)


def parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A line-item writer: Snappy (as providers' own Parquet exports; ~20 % less CPU than
    zstd for ~40 % larger files — encoding is the costliest step of a load), dictionary
    pages for text columns only (numbers rarely repeat enough to pay for the attempt),
    statistics only on :data:`STATISTICS_COLUMNS`.

    Dictionary-encoded input (``dictionary<int32, string>``, from
    ``FocusStream.iter_encoded``) is written without re-encoding, and without the Arrow
    schema in the file metadata so that readers get plain ``string`` columns back.
    """
    text = [f.name for f in schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)]
    encoded = any(pa.types.is_dictionary(f.type) for f in schema)
    return pq.ParquetWriter(
        path,
        schema,
        compression="snappy",
        use_dictionary=text,
        write_statistics=[n for n in STATISTICS_COLUMNS if n in schema.names],
        store_schema=not encoded,
    )


@dataclass
class PeriodWriter:
    """Writes the Parquet parts of one account × period into the staging area.

    Thread-safe: up to ``parts`` threads may call :meth:`write` at once, each then writes
    its own file (``part-<n>.parquet``), so Parquet encoding — the costliest step of a
    load — runs on several cores. Rows of a period are split over the parts; their order
    within a period is not kept.
    """

    directory: Path
    schema: pa.Schema | None = None
    rows: int = 0
    parts: int = 2
    _writers: list = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        with self._lock:
            if self.schema is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self.schema = table.schema
            part = next((p for p in self._writers if p.lock.acquire(blocking=False)), None)
            if part is None and len(self._writers) < self.parts:
                part = _Part(self.directory / f"part-{len(self._writers)}.parquet", self.schema)
                part.lock.acquire()
                self._writers.append(part)
        if part is None:  # more callers than parts: wait for the first
            part = self._writers[0]
            part.lock.acquire()
        try:
            if table.schema != self.schema:
                table = table.cast(self.schema)
            part.writer.write_table(table)
        finally:
            part.lock.release()
        with self._lock:
            self.rows += table.num_rows

    def close(self) -> None:
        for part in self._writers:
            with part.lock:
                part.writer.close()
        self._writers = []


class _Part:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.lock = threading.Lock()
        self.writer = parquet_writer(path, schema)


class LineItemStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # paths ---------------------------------------------------------------------------
    def period_dir(self, account_pk: int, period_start: dt.date) -> Path:
        return self.root / f"account={account_pk}" / f"period={period_key(period_start)}"

    def version_dir(self, account_pk: int, period_start: dt.date, version: str) -> Path:
        return self.period_dir(account_pk, period_start) / f"v={version}"

    def staging_dir(self, version: str) -> Path:
        return self.root / "_staging" / version

    def staging_writer(self, version: str, account_pk: int, period_start: dt.date) -> PeriodWriter:
        return PeriodWriter(
            self.staging_dir(version)
            / f"account={account_pk}"
            / f"period={period_key(period_start)}"
        )

    # the swap ------------------------------------------------------------------------
    def publish(self, version: str, account_pk: int, periods: Iterable[dt.date]) -> None:
        """Move a staged version into place beside the current one (does not make it current)."""
        for period in periods:
            src = (
                self.staging_dir(version) / f"account={account_pk}" / f"period={period_key(period)}"
            )
            dst = self.version_dir(account_pk, period, version)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.exists():
                src.rename(dst)
            else:  # a period with only zero-row batches still gets an (empty) version directory
                dst.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.staging_dir(version), ignore_errors=True)

    def discard(self, version: str, account_pk: int, periods: Iterable[dt.date]) -> None:
        """Remove everything a failed load wrote."""
        shutil.rmtree(self.staging_dir(version), ignore_errors=True)
        for period in periods:
            shutil.rmtree(self.version_dir(account_pk, period, version), ignore_errors=True)

    def drop_other_versions(self, account_pk: int, period_start: dt.date, keep: str) -> None:
        base = self.period_dir(account_pk, period_start)
        if not base.exists():
            return
        for child in base.iterdir():
            if child.name.startswith("v=") and child.name != f"v={keep}":
                shutil.rmtree(child, ignore_errors=True)

    # reading -------------------------------------------------------------------------
    def files(self, account_pk: int, period_start: dt.date, version: str) -> list[Path]:
        return sorted(self.version_dir(account_pk, period_start, version).glob("*.parquet"))

    def row_count(self, account_pk: int, period_start: dt.date, version: str) -> int:
        return sum(
            pq.ParquetFile(f).metadata.num_rows
            for f in self.files(account_pk, period_start, version)
        )

    def read(self, account_pk: int, period_start: dt.date, version: str, columns=None) -> pa.Table:
        files = self.files(account_pk, period_start, version)
        if not files:
            return pa.table({})
        return pa.concat_tables(
            [pq.read_table(f, columns=columns) for f in files], promote_options="default"
        )
