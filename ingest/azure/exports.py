"""Azure Cost Management FOCUS cost exports in a storage account: discover, fingerprint, read.

Exports write, under ``<container>/<root folder>/<export name>/``, one folder per billing period
(``20240901-20240930``) and per run (``<run id>``) holding ``manifest.json`` and the data
parts (``part_0_0001.parquet`` or ``.csv.gz``). The manifest lists ``blobs`` (``blobName``)
and ``runInfo.startDate``. Per period the newest manifest (blob last-modified) wins; its
fingerprint hashes the manifest's and the parts' ETags, so only restated periods reload.
Parts are streamed to a temporary file (bounded memory) and read by the FOCUS reader.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..canonical import ConnectionCheck, PeriodRead
from ..errors import ConnectorError
from ..focus import FocusValidationError, open_focus
from .client import AzureClient, split_blob_url

PERIOD_DIR_RE = re.compile(r"(?:^|/)(\d{4})(\d{2})01-\d{8}/")


@dataclass
class ExportRun:
    period_start: dt.date
    manifest: str
    blobs: list[str] = field(default_factory=list)
    fingerprint: str = ""


def manifest_period(name: str, manifest: dict[str, Any] | None = None) -> dt.date | None:
    m = PERIOD_DIR_RE.search(name)
    if m:
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    start = ((manifest or {}).get("runInfo") or {}).get("startDate")
    if start:
        d = dt.date.fromisoformat(str(start)[:10])
        return d.replace(day=1)
    return None


class AzureExportConnector:
    """Reads one export location ``https://<account>.blob.core.windows.net/<container>/<path>``."""

    def __init__(self, location: str, client: AzureClient) -> None:
        self.location = location.rstrip("/")
        self.account_url, self.container, prefix = split_blob_url(self.location)
        self.prefix = prefix + "/" if prefix else ""
        self.client = client

    def discover(self) -> dict[dt.date, ExportRun]:
        blobs = self.client.list_blobs(self.account_url, self.container, self.prefix)
        etags = {b["name"]: b.get("etag") or "" for b in blobs}
        newest: dict[dt.date, tuple[Any, str, dict[str, Any]]] = {}
        for b in blobs:
            if not b["name"].endswith("manifest.json"):
                continue
            where = f"{self.account_url}/{self.container}/{b['name']}"
            try:
                manifest = json.loads(
                    self.client.download_bytes(self.account_url, self.container, b["name"])
                )
            except json.JSONDecodeError as exc:
                raise ConnectorError(f"{where}: manifest is not valid JSON ({exc})") from exc
            period = manifest_period(b["name"], manifest)
            if period is None:
                continue
            stamp = (b.get("last_modified"), b["name"])
            if period not in newest or stamp > newest[period][0]:
                newest[period] = (stamp, b["name"], manifest)
        out = {}
        for period, (_, name, manifest) in newest.items():
            parts = [p.get("blobName") for p in manifest.get("blobs") or [] if p.get("blobName")]
            if not parts:
                raise ConnectorError(
                    f"{self.account_url}/{self.container}/{name}: the manifest lists no data blobs"
                )
            missing = [p for p in parts if p not in etags]
            if missing:
                raise ConnectorError(
                    f"{self.account_url}/{self.container}/{name}: manifest lists {len(missing)} blob(s) not in the container, e.g. {missing[0]}"
                )
            h = hashlib.sha256(etags.get(name, "").encode())
            for p in parts:
                h.update(b"|" + etags[p].encode())
            out[period] = ExportRun(period, name, parts, h.hexdigest()[:32])
        return out

    def read_period(
        self, period_start: dt.date, *, known_fingerprint: str | None = None
    ) -> PeriodRead:
        runs = self.discover()
        run = runs.get(period_start)
        if run is None:
            have = ", ".join(p.strftime("%Y-%m") for p in sorted(runs)) or "none"
            raise ConnectorError(
                f"{self.location}: no export manifest for billing period {period_start:%Y-%m} (periods found: {have}); check the export's storage path and that it has run"
            )
        uri = f"{self.account_url}/{self.container}/{run.manifest}"
        if known_fingerprint and known_fingerprint == run.fingerprint:
            return PeriodRead(period_start, uri, iter(()), run.fingerprint, unchanged=True)
        read = PeriodRead(period_start, uri, iter(()), run.fingerprint)
        read.batches = self._batches(run, read.warnings)
        return read

    def _batches(self, run: ExportRun, notes: list[str]) -> Iterator[pa.RecordBatch]:
        for part in run.blobs:
            suffix = (
                ".parquet"
                if part.endswith(".parquet")
                else (".csv.gz" if part.endswith(".gz") else ".csv")
            )
            fd, path = tempfile.mkstemp(prefix="headroom-azure-", suffix=suffix)
            os.close(fd)
            try:
                self.client.download_to(self.account_url, self.container, part, path)
                try:
                    stream = open_focus(path)
                    yield from stream
                    notes.extend(f"{part}: {w}" for w in stream.warnings)
                except FocusValidationError as exc:
                    raise ConnectorError(
                        str(exc).replace(path, f"{self.account_url}/{self.container}/{part}")
                    ) from exc
            finally:
                os.unlink(path)

    def test_connection(self) -> list[ConnectionCheck]:
        try:
            runs = self.discover()
        except Exception as exc:  # noqa: BLE001 - shown to the analyst
            return [ConnectionCheck("export manifests", False, str(exc))]
        if not runs:
            return [
                ConnectionCheck(
                    "export manifests", False, f"no manifest.json under {self.location}"
                )
            ]
        latest = runs[max(runs)]
        return [
            ConnectionCheck(
                "export manifests",
                True,
                f"{len(runs)} billing period(s): {', '.join(p.strftime('%Y-%m') for p in sorted(runs))}; latest has {len(latest.blobs)} part(s)",
            )
        ]
