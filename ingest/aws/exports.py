"""AWS Data Exports (CUR 2.0 and FOCUS 1.0/1.2) and legacy CUR in S3: discover, fingerprint, read.

Layouts recognised under ``s3://bucket/prefix``:

* Data Exports: ``<export>/metadata/BILLING_PERIOD=2024-09/[<run>/]<export>-Manifest.json``
  with data under ``<export>/data/BILLING_PERIOD=2024-09/...``; the manifest lists
  ``dataFiles`` (s3:// URIs) and ``billingPeriod`` {start, end};
* legacy CUR: ``<report>/20240901-20241001/[<assembly-id>/]<report>-Manifest.json`` with
  ``reportKeys`` (keys in the same bucket) and ``billingPeriod``.

When several manifests exist for one period (exports that keep every run), the newest
(LastModified) wins. A period's fingerprint is a hash of its manifest's ETag and the ETags of
the data files it lists, so a restated period (new ETags) is reloaded and an unchanged one
is skipped. Whether a file is CUR or FOCUS is decided from its column names.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..canonical import CanonicalBatcher, ConnectionCheck, PeriodRead
from ..errors import ConnectorError
from ..focus import open_focus
from ..focus.schema import detect_version
from ..sources import open_source
from .client import AwsClient
from .cur import cur_to_focus, is_cur, read_cur_csv

DATA_EXPORT_RE = re.compile(
    r"(?:^|/)metadata/BILLING_PERIOD=(\d{4})-(\d{2})/(?:.*/)?[^/]*Manifest\.json$", re.I
)
LEGACY_CUR_RE = re.compile(r"(?:^|/)(\d{4})(\d{2})01-\d{8}/(?:.*/)?[^/]*Manifest\.json$", re.I)


@dataclass
class ExportPeriod:
    """One billing period found in S3: its newest manifest and the data files it lists."""

    period_start: dt.date
    manifest_key: str
    manifest_etag: str
    data_keys: list[str] = field(default_factory=list)
    fingerprint: str = ""


def csv_header(src: Any) -> list[str]:
    """Column names of a CSV or gzip CSV object, from its first 64 KiB."""
    head = src.head(65536)
    if head[:2] == b"\x1f\x8b":
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
    line = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    return next(csv.reader([line]), [])


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ConnectorError(f"{uri!r}: an AWS export source must be s3://bucket/prefix")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise ConnectorError(f"{uri!r}: no bucket name")
    return bucket, prefix


def manifest_period(key: str) -> dt.date | None:
    """Billing period start encoded in a manifest key, or ``None`` if it is not a manifest."""
    m = DATA_EXPORT_RE.search(key) or LEGACY_CUR_RE.search(key)
    return dt.date(int(m.group(1)), int(m.group(2)), 1) if m else None


def newest_manifests(objects: list[dict[str, Any]]) -> dict[dt.date, dict[str, Any]]:
    """Period start -> the newest manifest object (dict with Key, ETag, LastModified)."""
    found: dict[dt.date, dict[str, Any]] = {}
    for obj in objects:
        period = manifest_period(obj["Key"])
        if period is None:
            continue
        cur = found.get(period)
        if cur is None or (obj.get("LastModified"), obj["Key"]) > (
            cur.get("LastModified"),
            cur["Key"],
        ):
            found[period] = obj
    return found


def data_keys_from_manifest(manifest: dict[str, Any], bucket: str, where: str) -> list[str]:
    """Object keys of a manifest's data files (Data Exports ``dataFiles`` or CUR ``reportKeys``)."""
    keys: list[str] = []
    for uri in manifest.get("dataFiles") or []:
        b, k = parse_s3_uri(uri)
        if b != bucket:
            raise ConnectorError(
                f"{where}: data file {uri} is in another bucket ({b}); Headroom reads one bucket per account"
            )
        keys.append(k)
    keys.extend(manifest.get("reportKeys") or [])
    if not keys:
        raise ConnectorError(
            f"{where}: the manifest lists no data files (neither 'dataFiles' nor 'reportKeys')"
        )
    return keys


def fingerprint(manifest_etag: str, data_etags: list[str]) -> str:
    h = hashlib.sha256(manifest_etag.strip('"').encode())
    for e in data_etags:
        h.update(b"|" + (e or "").strip('"').encode())
    return h.hexdigest()[:32]


class AwsExportConnector:
    """Reads one S3 export location (``s3://bucket/prefix``) period by period."""

    def __init__(self, source_uri: str, client: AwsClient, *, batch_rows: int = 100_000) -> None:
        self.bucket, self.prefix = parse_s3_uri(source_uri.rstrip("/") + "/")
        self.source_uri = source_uri
        self.client = client
        self.batch_rows = batch_rows

    def discover(self) -> dict[dt.date, ExportPeriod]:
        """Every billing period with a manifest under the prefix, newest manifest each."""
        objects = self.client.list_objects(self.bucket, self.prefix)
        etags = {o["Key"]: o.get("ETag", "") for o in objects}
        out: dict[dt.date, ExportPeriod] = {}
        for period, obj in newest_manifests(objects).items():
            where = f"s3://{self.bucket}/{obj['Key']}"
            try:
                manifest = json.loads(self.client.get_bytes(self.bucket, obj["Key"]))
            except json.JSONDecodeError as exc:
                raise ConnectorError(f"{where}: manifest is not valid JSON ({exc})") from exc
            keys = data_keys_from_manifest(manifest, self.bucket, where)
            missing = [k for k in keys if k not in etags]
            if missing:
                raise ConnectorError(
                    f"{where}: manifest lists {len(missing)} data file(s) not in the bucket, e.g. {missing[0]}"
                )
            out[period] = ExportPeriod(
                period,
                obj["Key"],
                obj.get("ETag", ""),
                keys,
                fingerprint(obj.get("ETag", ""), [etags[k] for k in keys]),
            )
        return out

    def read_period(
        self, period_start: dt.date, *, known_fingerprint: str | None = None
    ) -> PeriodRead:
        periods = self.discover()
        found = periods.get(period_start)
        if found is None:
            have = ", ".join(p.strftime("%Y-%m") for p in sorted(periods)) or "none"
            raise ConnectorError(
                f"s3://{self.bucket}/{self.prefix}: no export manifest for billing period {period_start:%Y-%m} "
                f"(periods found: {have}); check the export's S3 prefix and that it has delivered this month"
            )
        uri = f"s3://{self.bucket}/{found.manifest_key}"
        if known_fingerprint and known_fingerprint == found.fingerprint:
            return PeriodRead(period_start, uri, iter(()), found.fingerprint, unchanged=True)
        read = PeriodRead(period_start, uri, iter(()), found.fingerprint)
        read.batches = self._batches(found, read.warnings)
        return read

    def _batches(self, found: ExportPeriod, notes: list[str]) -> Iterator[pa.RecordBatch]:
        for key in found.data_keys:
            uri = f"s3://{self.bucket}/{key}"
            src = open_source(uri, self.client.storage_options())
            if src.head(4) == b"PAR1":
                columns = pq.ParquetFile(src.open_random_access()).schema_arrow.names
            else:
                columns = csv_header(src)
            if columns and is_cur(columns):
                yield from self._cur_batches(uri, src, notes)
            else:
                stream = open_focus(
                    uri, batch_rows=self.batch_rows, storage_options=self.client.storage_options()
                )
                yield from stream
                notes.extend(f"{key}: {w}" for w in stream.warnings)

    def _cur_batches(self, uri: str, src: Any, notes: list[str]) -> Iterator[pa.RecordBatch]:
        batcher = CanonicalBatcher(uri)
        if src.head(4) == b"PAR1":
            raws: Iterator[pa.RecordBatch] = pq.ParquetFile(src.open_random_access()).iter_batches(
                batch_size=self.batch_rows
            )
        else:
            raws = read_cur_csv(src.open_stream(), batch_rows=self.batch_rows)
        for raw in raws:
            if raw.num_rows:
                yield batcher.batch(cur_to_focus(raw))
        notes.extend(f"{uri}: {w}" for w in batcher.warnings())

    def test_connection(self) -> list[ConnectionCheck]:
        checks = []
        try:
            ident = self.client.caller_identity()
            checks.append(
                ConnectionCheck("identity", True, f"signed in as {ident.get('Arn', '?')}")
            )
        except Exception as exc:  # noqa: BLE001 - reported to the user, not raised
            checks.append(ConnectionCheck("identity", False, str(exc)))
            return checks
        try:
            periods = self.discover()
        except Exception as exc:  # noqa: BLE001
            checks.append(ConnectionCheck("export manifests", False, str(exc)))
            return checks
        if not periods:
            checks.append(
                ConnectionCheck(
                    "export manifests",
                    False,
                    f"no manifests under s3://{self.bucket}/{self.prefix}",
                )
            )
            return checks
        latest = periods[max(periods)]
        checks.append(
            ConnectionCheck(
                "export manifests",
                True,
                f"{len(periods)} billing period(s): {', '.join(p.strftime('%Y-%m') for p in sorted(periods))}; "
                f"latest has {len(latest.data_keys)} data file(s)",
            )
        )
        try:
            src = open_source(
                f"s3://{self.bucket}/{latest.data_keys[0]}", self.client.storage_options()
            )
            if src.head(4) == b"PAR1":
                names = pq.ParquetFile(src.open_random_access()).schema_arrow.names
                kind = "CUR 2.0" if is_cur(names) else f"FOCUS {detect_version(names)}"
                checks.append(
                    ConnectionCheck(
                        "data file", True, f"readable {kind} Parquet, {len(names)} columns"
                    )
                )
            else:
                checks.append(ConnectionCheck("data file", True, f"readable, {src.size} bytes"))
        except Exception as exc:  # noqa: BLE001
            checks.append(ConnectionCheck("data file", False, str(exc)))
        return checks
