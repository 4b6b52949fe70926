"""Storing the FOCUS datasets besides cost and usage when they arrive through ingestion.

A file that the cost-and-usage reader refuses as "not a FOCUS billing file" is tried as one of
the other datasets (:func:`ingest.focus.datasets.detect_dataset`). A Contract Commitment,
Billing Period or Invoice Detail file is validated whole, then stored as one Parquet file in
its FOCUS 1.4 shape under ``LINE_ITEM_STORE/datasets/<dataset>/account=<pk>/`` (written beside,
then renamed into place: never half a file), and a Contract Commitment file also updates the
commitments inventory. Anything else keeps the original error.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from ingest.focus.datasets import (
    CONTRACT_COMMITMENT,
    COST_AND_USAGE,
    detect_dataset,
    read_dataset,
)
from ingest.focus.errors import FocusValidationError
from ingest.sources import open_source
from planner.billing.runs import object_read_options

#: Supplemental datasets are small (one row per commitment, period or invoice line).
MAX_DATASET_BYTES = 200 * 1024 * 1024


@dataclass
class DatasetLoad:
    """Shaped like the loader's ``LoadResult`` so the ingest run records it the same way."""

    dataset: str
    version: str
    path: str
    rows_read: int
    rows_stored: int
    periods: list[str] = field(default_factory=list)
    totals: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def dataset_dir(dataset: str, account_pk: int | None) -> Path:
    slug = dataset.lower().replace(" ", "_")
    return Path(settings.LINE_ITEM_STORE) / "datasets" / slug / f"account={account_pk or 0}"


def _header(src) -> list[str]:
    """Column names from the first bytes of a CSV (plain or gzip) or the Parquet schema."""
    head = src.head(64 * 1024)
    if head[:4] == b"PAR1":
        try:
            with src.open_random_access() as f:
                return list(pq.ParquetFile(f).schema_arrow.names)
        except (pa.ArrowInvalid, OSError):  # damaged: the cost-and-usage error stands
            return []
    if head[:2] == b"\x1f\x8b":
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(head)).read(64 * 1024)
        except (OSError, EOFError):
            return []
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    return [c.strip() for c in first if c.strip()]


def load_supplemental(source_uri: str, account) -> DatasetLoad | None:
    """Validate and store ``source_uri`` if it is a supplemental FOCUS dataset; ``None`` when it
    is not one (the caller reports its own error). Raises the dataset's
    :class:`~ingest.focus.errors.FocusValidationError` (row and column named) when it is one
    but invalid."""
    src = open_source(source_uri, object_read_options())
    if src.size is not None and src.size > MAX_DATASET_BYTES:
        return None
    header = _header(src)
    if not header:
        return None
    try:
        dataset, _version = detect_dataset(header, src.name)
    except FocusValidationError:
        return None
    if dataset == COST_AND_USAGE:
        return None
    data = read_dataset(source_uri, storage_options=object_read_options())
    directory = dataset_dir(data.dataset, getattr(account, "pk", None))
    directory.mkdir(parents=True, exist_ok=True)
    name = Path(str(source_uri)).name.split(".")[0] or "dataset"
    final = directory / f"{name}.parquet"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(data.table, tmp)
        if data.dataset == CONTRACT_COMMITMENT:
            from planner.commitments.contracts import import_contract_commitments

            import_contract_commitments(source_uri, account)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return DatasetLoad(
        dataset=data.dataset,
        version=data.version,
        path=str(final),
        rows_read=data.rows,
        rows_stored=data.rows,
        warnings=[f"FOCUS {data.version} {data.dataset} dataset stored", *data.warnings],
    )
