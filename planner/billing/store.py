"""Line-item store: FOCUS billing records as Parquet, one prefix per account × billing period,
on a local disk or an object store (S3, Google Cloud Storage, Azure Blob; ``ingest.objectstore``).

Layout under ``LINE_ITEM_STORE``::

    account=<pk>/period=<YYYY-MM>/v=<version>/part-<n>.parquet

A load writes its parts straight into a fresh version prefix (a version name starts with its
UTC start time, ``20250301T120000-1a2b3c4d``, and is never reused). Nothing reads a version
until the database row `BillingPeriodLoad` points at it; that pointer is switched in the same
transaction as the rollups, after the load has checked that every part it wrote is there. So
readers never see a half-written period, on any store, without needing an atomic rename (which
object stores do not have). Superseded versions are removed after the switch commits, under the
pointer's row lock (`planner.billing.loader`); whatever a crash leaves behind — a worker killed
mid-load, a failed delete — is an *orphan* version that no pointer names, removed by
:meth:`LineItemStore.sweep` once it is older than any load can run.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.objectstore import Location, open_location
from planner.billing.errors import MissingPartsError


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


def parquet_writer(path: str, schema: pa.Schema, filesystem=None) -> pq.ParquetWriter:
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
        filesystem=filesystem,
        compression="snappy",
        use_dictionary=text,
        write_statistics=[n for n in STATISTICS_COLUMNS if n in schema.names],
        store_schema=not encoded,
    )


VERSION_FORMAT = "%Y%m%dT%H%M%S"


def version_started(version: str) -> dt.datetime | None:
    """The UTC start time a version name begins with (None for a name of another form)."""
    try:
        return dt.datetime.strptime(version[:15], VERSION_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


@dataclass
class PeriodWriter:
    """Writes the Parquet parts of one account × period into its version prefix.

    Thread-safe: up to ``parts`` threads may call :meth:`write` at once, each then writes
    its own file (``part-<n>.parquet``), so Parquet encoding — the costliest step of a
    load — runs on several cores. Rows of a period are split over the parts; their order
    within a period is not kept. On an object store a part becomes visible only when it is
    closed (multipart upload completed), so a killed writer leaves no half part behind.
    """

    location: Location
    directory: str
    schema: pa.Schema | None = None
    rows: int = 0
    parts: int = 2
    paths: list[str] = field(default_factory=list)
    _writers: list = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        with self._lock:
            if self.schema is None:
                self.location.makedirs(self.directory)
                self.schema = table.schema
            part = next((p for p in self._writers if p.lock.acquire(blocking=False)), None)
            if part is None and len(self._writers) < self.parts:
                path = posixpath.join(self.directory, f"part-{len(self._writers)}.parquet")
                part = _Part(path, self.schema, self.location)
                part.lock.acquire()
                self._writers.append(part)
                self.paths.append(path)
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
    def __init__(self, path: str, schema: pa.Schema, location: Location) -> None:
        self.lock = threading.Lock()
        self.writer = parquet_writer(path, schema, location.filesystem if location.remote else None)


class LineItemStore:
    """Line items of every account × period at ``url`` (a directory or an object-store URL)."""

    def __init__(self, url, *, endpoint: str = "", region: str = "", location=None):
        self.location: Location = location or open_location(url, endpoint=endpoint, region=region)
        self.root: str = self.location.root

    @property
    def remote(self) -> bool:
        return self.location.remote

    # paths ---------------------------------------------------------------------------
    def period_dir(self, account_pk: int, period_start: dt.date) -> str:
        return self.location.path(f"account={account_pk}", f"period={period_key(period_start)}")

    def version_dir(self, account_pk: int, period_start: dt.date, version: str) -> str:
        return posixpath.join(self.period_dir(account_pk, period_start), f"v={version}")

    def writer(self, version: str, account_pk: int, period_start: dt.date) -> PeriodWriter:
        return PeriodWriter(self.location, self.version_dir(account_pk, period_start, version))

    staging_writer = writer  # the loader's name from when versions were staged and renamed

    # the swap ------------------------------------------------------------------------
    def publish(self, version: str, account_pk: int, writers: dict) -> None:
        """Check that every part the writers closed is in the store (an object store lists a
        part once its upload completed). Raises :class:`MissingPartsError` otherwise — the
        pointer must never name an incomplete version. Periods with only zero-row batches have
        no parts: their version is empty, and reads as no rows."""
        for period, writer in writers.items():
            expected = set(writer.paths)
            if not expected:
                continue
            found = set(self.location.files(self.version_dir(account_pk, period, version)))
            missing = sorted(expected - found)
            if missing:
                raise MissingPartsError(
                    f"line items of account {account_pk}, period {period_key(period)}, version "
                    f"{version}: {len(missing)} part(s) missing from {self.location.url} "
                    f"({missing[0]}); another load of the same period removed them — run it again"
                )

    def discard(self, version: str, account_pk: int, periods: Iterable[dt.date]) -> None:
        """Remove everything a failed load wrote."""
        for period in periods:
            self.location.remove_tree(self.version_dir(account_pk, period, version))

    def versions(self, account_pk: int, period_start: dt.date) -> list[str]:
        """Version names present for a period (current, superseded or orphaned), oldest first."""
        base = self.period_dir(account_pk, period_start)
        names = [posixpath.basename(i.path) for i in self.location.listdir(base)]
        return sorted(n[2:] for n in names if n.startswith("v="))

    def drop_older_versions(self, account_pk: int, period_start: dt.date, keep: str) -> list[str]:
        """Remove the versions that started before `keep` (superseded). Versions started later
        may belong to a load still running and are left alone. Returns the names removed."""
        dropped = [v for v in self.versions(account_pk, period_start) if v < keep]
        for v in dropped:
            self.location.remove_tree(self.version_dir(account_pk, period_start, v))
        return dropped

    def drop_other_versions(self, account_pk: int, period_start: dt.date, keep: str) -> None:
        for v in self.versions(account_pk, period_start):
            if v != keep:
                self.location.remove_tree(self.version_dir(account_pk, period_start, v))

    def sweep(self, current: dict[tuple[int, str], str], older_than: dt.datetime) -> list[str]:
        """Remove orphans: versions no pointer names (`current` maps (account pk, "YYYY-MM")
        to the current version) that started before `older_than`. Returns the paths removed."""
        removed = []
        for acct in self.location.listdir(self.root):
            name = posixpath.basename(acct.path)
            if name == "_staging":  # left by the rename-based layout of earlier releases
                removed.append(acct.path)
                self.location.remove_tree(acct.path)
                continue
            if not name.startswith("account="):
                continue
            try:
                account_pk = int(name.split("=", 1)[1])
            except ValueError:
                continue
            for per in self.location.listdir(acct.path):
                pname = posixpath.basename(per.path)
                if not pname.startswith("period="):
                    continue
                keep = current.get((account_pk, pname.split("=", 1)[1]))
                for ver in self.location.listdir(per.path):
                    vname = posixpath.basename(ver.path)
                    if not vname.startswith("v=") or vname[2:] == keep:
                        continue
                    started = version_started(vname[2:])
                    if started is not None and started < older_than:
                        self.location.remove_tree(ver.path)
                        removed.append(ver.path)
        return removed

    # reading -------------------------------------------------------------------------
    def files(self, account_pk: int, period_start: dt.date, version: str) -> list[str]:
        return self.location.files(self.version_dir(account_pk, period_start, version), ".parquet")

    def _fs(self):
        return self.location.filesystem

    def row_count(self, account_pk: int, period_start: dt.date, version: str) -> int:
        return sum(
            pq.ParquetFile(self._fs().open_input_file(f)).metadata.num_rows
            for f in self.files(account_pk, period_start, version)
        )

    def read(self, account_pk: int, period_start: dt.date, version: str, columns=None) -> pa.Table:
        files = self.files(account_pk, period_start, version)
        if not files:
            return pa.table({})
        return pa.concat_tables(
            [pq.read_table(f, columns=columns, filesystem=self._fs()) for f in files],
            promote_options="default",
        )

    def register_duckdb(self, con, name: str, versions: Iterable[tuple[int, dt.date, str]]) -> bool:
        """Make the line items of `versions` ((account pk, period start, version) each) a DuckDB
        view `name`. Local files are read by DuckDB itself; object-store files through an Arrow
        dataset on the same filesystem (DuckDB pushes filters and columns into it), so no DuckDB
        extension is downloaded. Returns False when there is no file."""
        files = [f for a, p, v in versions for f in self.files(a, p, v)]
        if not files:
            return False
        if not self.remote:
            con.read_parquet(files, union_by_name=True).create_view(name, replace=True)
            return True
        import pyarrow.dataset as ds

        schemas = {}
        for f in files:  # one footer per version prefix is enough: its parts share a schema
            schemas.setdefault(posixpath.dirname(f), pq.read_schema(f, filesystem=self._fs()))
        schema = pa.unify_schemas(list(schemas.values()), promote_options="permissive")
        con.register(
            name, ds.dataset(files, schema=schema, format="parquet", filesystem=self._fs())
        )
        return True
