"""The FOCUS datasets besides Cost and Usage: Contract Commitment (1.3+), Billing Period and
Invoice Detail (1.4).

Column lists, feature levels, types and allowed values per dataset and release are in
``spec/focus_datasets.csv`` (see ``spec/PROVENANCE.md``). These datasets are small (one row
per commitment, billing period or invoice line), so a file is read whole, validated with the
same converters as cost-and-usage files (errors name the row and column), and returned as
one table in the dataset's FOCUS 1.4 shape: columns of the newest release in spec order,
null where an older file lacks them, plus ``x_Extensions``.

:func:`detect_dataset` names the dataset and release of any FOCUS header, cost-and-usage
included, so callers can route a file without knowing what it is.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from ..sources import open_source
from . import convert
from .errors import FocusError, FocusValidationError, NotFocusError, short_repr
from .schema import (
    EXTENSIONS_COLUMN,
    NEWEST_VERSION,
    SPEC_DIR,
    ColumnSpec,
    check_declared_version,
    detect_version,
)

COST_AND_USAGE = "Cost and Usage"
CONTRACT_COMMITMENT = "Contract Commitment"
BILLING_PERIOD = "Billing Period"
INVOICE_DETAIL = "Invoice Detail"
#: Share of a dataset's mandatory columns a header must carry to be taken for it.
MIN_MANDATORY_SHARE = 0.8


@dataclass(frozen=True)
class DatasetSpec:
    """One FOCUS dataset in one release: its columns and closed value lists."""

    dataset: str
    version: str
    columns: tuple[ColumnSpec, ...]
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def mandatory(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if c.required)


@cache
def dataset_specs() -> dict[tuple[str, str], DatasetSpec]:
    """Every (dataset, version) of ``focus_datasets.csv``."""
    cols: dict[tuple[str, str], list[ColumnSpec]] = {}
    allowed: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
    with open(SPEC_DIR / "focus_datasets.csv", newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            key = (rec["dataset"], rec["version"])
            cols.setdefault(key, []).append(
                ColumnSpec(
                    name=rec["column_id"],
                    display_name=rec["display_name"],
                    column_type="Metric" if rec["data_type"] == "Decimal" else "Dimension",
                    feature_level=rec["feature_level"],
                    allows_nulls=rec["allows_nulls"] == "True",
                    data_type=rec["data_type"],
                    introduced=rec["introduced_version"],
                    versions=frozenset({rec["version"]}),
                )
            )
            if rec["allowed_values"]:
                allowed.setdefault(key, {})[rec["column_id"]] = tuple(
                    rec["allowed_values"].split("|")
                )
    return {k: DatasetSpec(k[0], k[1], tuple(v), allowed.get(k, {})) for k, v in cols.items()}


def newest(dataset: str) -> DatasetSpec:
    """The dataset in the newest release that defines it (its canonical shape)."""
    return dataset_specs()[(dataset, NEWEST_VERSION)]


def detect_dataset(
    columns: list[str] | tuple[str, ...], source: str = "<columns>", declared: str | None = None
) -> tuple[str, str]:
    """``(dataset, version)`` of a FOCUS header, e.g. ``("Contract Commitment", "1.3")``.

    A supplemental dataset matches when its file carries at least
    :data:`MIN_MANDATORY_SHARE` of the dataset's mandatory columns; among matches the
    dataset whose columns overlap the header most wins, then the newest release whose
    added columns appear. Anything else is tried as cost and usage
    (:func:`~ingest.focus.schema.detect_version`, which raises :class:`NotFocusError`)."""
    present = set(columns)
    best: tuple[float, str, str] | None = None
    for (dataset, version), spec in sorted(dataset_specs().items()):
        mandatory = spec.mandatory
        if len(mandatory & present) < MIN_MANDATORY_SHARE * len(mandatory):
            continue
        overlap = len(present & set(spec.names)) / len(present | set(spec.names))
        if best is None or overlap > best[0] or (overlap == best[0] and best[1] == dataset):
            best = (overlap, dataset, version)
    if best is None:
        return COST_AND_USAGE, detect_version(columns, source, declared)
    _, dataset, version = best
    if declared:
        version = check_declared_version(declared, source)
        if (dataset, version) not in dataset_specs():
            raise _not_in_release(source, dataset, version)
    return dataset, version


def _not_in_release(source: str, dataset: str, version: str) -> FocusValidationError:
    first = min(v for d, v in dataset_specs() if d == dataset)
    return FocusValidationError(
        [
            FocusError(
                source,
                None,
                None,
                version,
                f"FOCUS {first} or newer",
                f"the {dataset} dataset first appears in FOCUS {first}, but the file "
                f"declares FOCUS {version}",
            )
        ]
    )


@dataclass
class DatasetTable:
    """A validated supplemental dataset: ``table`` has the 1.4 columns + ``x_Extensions``."""

    source: str
    dataset: str
    version: str
    format: str
    table: pa.Table
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


#: The supplementary datasets are read whole; a compressed one may not inflate past this.
DATASET_MAX_DECOMPRESSED_BYTES = 512 * 1024**2


def _read_raw(
    source: str | Path,
    storage_options: dict[str, Any] | None,
    max_decompressed_bytes: int = DATASET_MAX_DECOMPRESSED_BYTES,
) -> tuple[Any, ...]:
    from .bytestreams import gunzip_bounded
    from .errors import DecompressionLimitError

    src = open_source(source, storage_options)
    if src.size == 0:
        raise NotFocusError(
            [FocusError(src.name, None, None, None, "a FOCUS file", "the file is empty (0 bytes)")]
        )
    magic = src.head(4)
    if magic == b"PAR1":
        pf = pq.ParquetFile(src.open_random_access())
        from .reader import declared_version

        return src.name, "parquet", pf.read(), declared_version(pf.metadata.metadata)
    stream = src.open_stream()
    try:
        data = stream.read()
    finally:
        stream.close()
    fmt = "csv"
    if magic[:2] == b"\x1f\x8b":
        try:
            data, fmt = gunzip_bounded(io.BytesIO(data), max_decompressed_bytes).read(), "csv.gz"
        except DecompressionLimitError as exc:
            raise NotFocusError(
                [FocusError(src.name, None, None, None, "a FOCUS file", str(exc))]
            ) from None
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    header = [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]
    table = pcsv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        read_options=pcsv.ReadOptions(column_names=header, skip_rows=1),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types={n: pa.string() for n in header},
            null_values=["NULL", ""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    return src.name, fmt, table, None


def read_dataset(
    source: str | Path,
    *,
    storage_options: dict[str, Any] | None = None,
    max_decompressed_bytes: int = DATASET_MAX_DECOMPRESSED_BYTES,
) -> DatasetTable:
    """Read and validate a Contract Commitment, Billing Period or Invoice Detail file.

    Raises :class:`FocusValidationError` listing every missing mandatory column, or the bad
    values (row and column named), and ``ValueError`` for a cost-and-usage file (read those
    with :func:`~ingest.focus.reader.open_focus`)."""
    name, fmt, raw, declared = _read_raw(source, storage_options, max_decompressed_bytes)
    dataset, version = detect_dataset(raw.column_names, name, declared)
    if dataset == COST_AND_USAGE:
        raise ValueError(f"{name} is a FOCUS {version} cost-and-usage file; use open_focus()")
    spec = dataset_specs()[(dataset, version)]
    missing = sorted(spec.mandatory - set(raw.column_names))
    if missing:
        raise FocusValidationError(
            [
                FocusError(
                    name,
                    None,
                    col,
                    None,
                    f"a column named {col}",
                    f"mandatory FOCUS {version} {dataset} column {col} is missing",
                )
                for col in missing
            ],
            hint="Fix the header (or re-export the dataset) and retry.",
        )
    table, warnings = _normalise(raw, spec, newest(dataset), name)
    return DatasetTable(name, dataset, version, fmt, table, warnings)


def _normalise(
    raw: pa.Table, spec: DatasetSpec, target: DatasetSpec, source: str
) -> tuple[pa.Table, list[str]]:
    ctx = convert.BatchContext(source, 1)
    given = {n: raw.column(n).combine_chunks() for n in raw.column_names}
    out: dict[str, pa.Array] = {}
    notes: list[str] = []
    for col in target.columns:
        arr = given.get(col.name)
        if arr is None:
            out[col.name] = pa.nulls(raw.num_rows, col.arrow_type)
            continue
        if col.kind == "decimal":
            out[col.name] = convert.to_decimal(arr, col.name, col.expected, ctx)
        elif col.kind == "datetime":
            out[col.name] = convert.to_datetime(arr, col.name, col.expected, ctx)
        elif col.kind == "json":
            out[col.name] = convert.to_json_object(arr, col.name, col.expected, ctx)
        else:
            out[col.name] = pc.cast(convert.to_string(arr, col.name, ctx), pa.string())
        _check_value(out[col.name], col, spec, ctx, notes)
    if ctx.errors:
        ctx.errors.sort(key=lambda e: (e.row or 0, e.column or ""))
        raise FocusValidationError(
            ctx.errors, hint="Correct these values in the file (or re-export it) and retry."
        )
    extra = {n: a for n, a in given.items() if n not in set(target.names)}
    ext = convert.extensions_json(extra, raw.num_rows)
    out[EXTENSIONS_COLUMN] = ext.dictionary_decode() if pa.types.is_dictionary(ext.type) else ext
    return pa.table(out), notes


def _check_value(
    arr: pa.Array, col: ColumnSpec, spec: DatasetSpec, ctx: convert.BatchContext, notes: list[str]
) -> None:
    allowed = spec.allowed.get(col.name)
    if allowed:
        listing = ", ".join(allowed)
        ctx.add_masked(
            pc.invert(pc.is_in(arr, value_set=pa.array(allowed))),
            arr,
            col.name,
            f"one of {listing}",
            lambda v: f"{short_repr(v)} is not an allowed {col.name} value in FOCUS {spec.version}",
        )
    if col.allows_nulls or arr.null_count == 0 or col.name not in spec.names:
        return
    if col.required:
        ctx.add_masked(
            pc.is_null(arr),
            arr,
            col.name,
            col.expected,
            lambda v: f"{col.name} is empty but FOCUS does not allow nulls here",
        )
    else:
        notes.append(f"{col.name}: {arr.null_count} row(s) have no value; kept as null")
