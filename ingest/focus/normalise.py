"""Turn record batches of any FOCUS release into validated canonical FOCUS 1.4 batches.

:class:`BatchNormaliser` is built once per file from the file's Arrow schema (it rejects
column types that cannot be cast before any row is read) and then converts each record
batch: casts every column to :data:`~ingest.focus.schema.CANONICAL_SCHEMA`, fills
columns the file lacks with nulls (after mapping deprecated columns to their 1.4
replacements, :mod:`~ingest.focus.versions`), gathers ``x_*`` and non-FOCUS columns into
``x_Extensions``, and checks values (numbers, date-times, JSON, allowed values, nulls,
period order, one BillingCurrency). All checks are pyarrow compute kernels over whole
columns; a batch with problems raises one :class:`FocusValidationError` listing up to
:data:`~ingest.focus.errors.MAX_ERRORS_PER_BATCH` of them with exact row numbers.
"""

from __future__ import annotations

from functools import cache, partial

import pyarrow as pa
import pyarrow.compute as pc

from . import convert, versions
from .encoded import TEXT_DICT, as_text_dict, is_text_dict, row_mask, used_values
from .errors import MAX_ERRORS_PER_BATCH, FocusError, FocusValidationError, short_repr
from .schema import (
    CANONICAL_SCHEMA,
    ESSENTIAL_COLUMNS,
    EXTENSIONS_COLUMN,
    ColumnSpec,
    all_column_specs,
    allowed_values,
    columns_for,
    is_extension_column,
)

CURRENCY_RE = r"^[A-Z]{3}$"
ISO = "%Y-%m-%dT%H:%M:%SZ"


def _not_allowed(value: object, *, column: str, version: str, listing: str) -> str:
    return f"{short_repr(value)} is not an allowed {column} value in FOCUS {version}"


def _iso_text(ts: pa.Array) -> list[str]:
    seconds = pc.cast(ts, pa.timestamp("s", tz="UTC"), safe=False)
    return pc.strftime(seconds, ISO).to_pylist()  # type: ignore[no-any-return]


def _empty(value: object, *, column: str) -> str:
    return f"{column} is empty but FOCUS does not allow nulls here"


FIX_HINT = "Correct these values in the file (or re-export it) and load it again."


@cache
def encoded_schema() -> pa.Schema:
    """:data:`CANONICAL_SCHEMA` with every text column as ``dictionary<int32, string>``."""
    return pa.schema(
        [
            pa.field(f.name, TEXT_DICT, f.nullable, f.metadata) if f.type == pa.string() else f
            for f in CANONICAL_SCHEMA
        ],
        metadata=CANONICAL_SCHEMA.metadata,
    )


def _decoded(arr: pa.Array) -> pa.Array:
    return arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr


class BatchNormaliser:
    """Validating converter from one file's batches to canonical FOCUS 1.4 batches.

    ``warnings`` collects messages about tolerated deviations (value case normalised,
    nulls in not-null columns that Headroom does not need, unknown ServiceSubcategory
    values, mixed currencies when allowed); call :meth:`finish` after the last batch.
    """

    def __init__(
        self,
        input_schema: pa.Schema,
        version: str,
        source: str,
        *,
        allow_mixed_currency: bool = False,
        null_strings: bool = False,
    ) -> None:
        self.source = source
        self.null_strings = null_strings
        self.version = version
        self.allow_mixed_currency = allow_mixed_currency
        self.input_names = list(input_schema.names)
        self.specs = all_column_specs()
        self.version_columns = {c.name for c in columns_for(version)}
        self.extension_names = [n for n in self.input_names if is_extension_column(n)]
        self.allowed = allowed_values(version)
        self.currencies: list[str] = []
        self._case_fixes: dict[tuple[str, str], tuple[str, int]] = {}
        self._soft_nulls: dict[str, list[int]] = {}  # column -> [count, first row]
        self._unknown_soft: dict[str, dict[str, int]] = {}
        self._check_types(input_schema)

    # -- schema ---------------------------------------------------------------
    def _check_types(self, schema: pa.Schema) -> None:
        errors = []
        for field in schema:
            spec = self.specs.get(field.name)
            if spec is None or convert.accepts(spec.kind, field.type):
                continue
            errors.append(
                FocusError(
                    self.source,
                    None,
                    field.name,
                    str(field.type),
                    spec.expected,
                    f"the file stores {field.name} as type {field.type}, which cannot be "
                    f"read as {spec.data_type}",
                )
            )
        if errors:
            raise FocusValidationError(
                errors, hint="Write these columns with the FOCUS data type and retry."
            )

    # -- per batch --------------------------------------------------------------
    def normalise(
        self, batch: pa.RecordBatch, first_row: int, *, keep_dictionaries: bool = False
    ) -> pa.RecordBatch:
        """Canonical batch for ``batch``, whose first row is data row ``first_row``.

        Dictionary-encoded text input is checked on its distinct values. With
        ``keep_dictionaries`` every text column comes back as ``dictionary<int32, string>``
        (same values; :func:`encoded_schema`), else as plain ``string``."""
        ctx = convert.BatchContext(self.source, first_row)
        n = batch.num_rows
        given = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
        if self.null_strings:
            given = {name: convert.nullify_text(arr) for name, arr in given.items()}
        given, deprecated = versions.upgrade_columns(given)
        out: dict[str, pa.Array] = {}
        for field in CANONICAL_SCHEMA:
            if field.name == EXTENSIONS_COLUMN:
                continue
            arr = given.get(field.name)
            if arr is None:
                out[field.name] = pa.nulls(n, field.type)
                continue
            spec = self.specs[field.name]
            out[field.name] = self._convert(spec, arr, ctx)
        self._check_allowed_values(out, ctx)
        self._check_nulls(given, out, ctx)
        self._check_order(out, "ChargePeriodStart", "ChargePeriodEnd", ctx)
        self._check_order(out, "BillingPeriodStart", "BillingPeriodEnd", ctx)
        self._check_currency(out["BillingCurrency"], ctx)
        if ctx.errors:
            ctx.errors.sort(key=lambda e: (e.row or 0, e.column or ""))
            raise FocusValidationError(ctx.errors, hint=FIX_HINT)
        out[EXTENSIONS_COLUMN] = convert.extensions_json(
            {name: given[name] for name in self.extension_names} | deprecated, n
        )
        if keep_dictionaries:
            schema = encoded_schema()
            arrays = [
                as_text_dict(out[f.name]) if f.type == TEXT_DICT else out[f.name] for f in schema
            ]
            return pa.RecordBatch.from_arrays(arrays, schema=schema)
        arrays = [_decoded(out[name]) for name in CANONICAL_SCHEMA.names]
        return pa.RecordBatch.from_arrays(arrays, schema=CANONICAL_SCHEMA)

    def _convert(self, spec: ColumnSpec, arr: pa.Array, ctx: convert.BatchContext) -> pa.Array:
        if spec.kind == "decimal":
            return convert.to_decimal(arr, spec.name, spec.expected, ctx)
        if spec.kind == "datetime":
            return convert.to_datetime(arr, spec.name, spec.expected, ctx)
        if spec.kind == "json":
            return convert.to_json_object(arr, spec.name, spec.expected, ctx)
        return convert.to_string(arr, spec.name, ctx)

    def _check_allowed_values(self, out: dict[str, pa.Array], ctx: convert.BatchContext) -> None:
        for column, allowed in self.allowed.items():
            arr = out[column]
            if arr.null_count == len(arr):
                continue
            values = pa.array(allowed.values, pa.string())
            if is_text_dict(arr.type):
                unknown = pc.invert(pc.is_in(arr.dictionary, value_set=values))
                if not pc.any(unknown).as_py() or not pc.any(row_mask(arr, unknown)).as_py():
                    continue  # every value used is allowed (the common case)
                arr = out[column] = arr.dictionary_decode()  # rare path: per row, as below
            bad = pc.and_(pc.is_valid(arr), pc.invert(pc.is_in(arr, value_set=values)))
            if not pc.any(bad).as_py():
                continue
            # Tolerate case and surrounding spaces ("Usage-based" -> "Usage-Based").
            idx = pc.index_in(
                pc.utf8_lower(pc.utf8_trim_whitespace(arr)), value_set=pc.utf8_lower(values)
            )
            fixable = pc.and_(bad, pc.is_valid(idx))
            if pc.any(fixable).as_py():
                fixed = values.take(idx)
                self._note_case_fixes(column, arr, fixed, fixable)
                arr = pc.if_else(fixable, fixed, arr)
                out[column] = arr
                bad = pc.and_(bad, pc.invert(fixable))
            if not pc.any(bad).as_py():
                continue
            if allowed.severity == "warning":
                seen = self._unknown_soft.setdefault(column, {})
                for v in pc.unique(arr.filter(bad)).to_pylist():
                    seen[v] = seen.get(v, 0) + pc.sum(pc.equal(arr, v)).as_py()
                continue
            listing = ", ".join(allowed.values)
            ctx.add_masked(
                bad,
                arr,
                column,
                f"one of {listing}",
                partial(_not_allowed, column=column, version=self.version, listing=listing),
            )

    def _note_case_fixes(self, column: str, raw: pa.Array, fixed: pa.Array, mask: pa.Array) -> None:
        pairs = pa.table({"raw": raw.filter(mask), "fixed": fixed.filter(mask)})
        counts = pairs.group_by(["raw", "fixed"]).aggregate([("raw", "count")])
        for r, f, c in zip(
            counts["raw"].to_pylist(),
            counts["fixed"].to_pylist(),
            counts["raw_count"].to_pylist(),
            strict=True,
        ):
            prev = self._case_fixes.get((column, r), (f, 0))
            self._case_fixes[(column, r)] = (f, prev[1] + c)

    def _check_nulls(
        self, given: dict[str, pa.Array], out: dict[str, pa.Array], ctx: convert.BatchContext
    ) -> None:
        for name in given:
            spec = self.specs.get(name)
            if spec is None or spec.allows_nulls or name not in self.version_columns:
                continue
            arr = out[name]
            if arr.null_count == 0:
                continue
            if name in ESSENTIAL_COLUMNS:
                ctx.add_masked(
                    pc.is_null(given[name]),
                    given[name],
                    name,
                    spec.expected,
                    partial(_empty, column=name),
                )
                continue
            first = pc.indices_nonzero(pc.is_null(arr))[0].as_py()
            entry = self._soft_nulls.setdefault(name, [0, ctx.first_row + first])
            entry[0] += arr.null_count

    def _check_order(
        self, out: dict[str, pa.Array], start: str, end: str, ctx: convert.BatchContext
    ) -> None:
        s, e = out[start], out[end]
        bad = pc.less(e, s)
        if not pc.any(pc.fill_null(bad, False)).as_py():
            return
        room = MAX_ERRORS_PER_BATCH - len(ctx.errors)
        idx = pc.indices_nonzero(pc.fill_null(bad, False)).slice(0, max(room, 0))
        ends = _iso_text(e.take(idx))
        starts = _iso_text(s.take(idx))
        for i, end_v, start_v in zip(idx.to_pylist(), ends, starts, strict=True):
            ctx.errors.append(
                FocusError(
                    self.source,
                    ctx.first_row + i,
                    end,
                    end_v,
                    f"{end} at or after {start}",
                    f"{end} {end_v} is before {start} {start_v}",
                )
            )

    def _check_currency(self, cur: pa.Array, ctx: convert.BatchContext) -> None:
        if is_text_dict(cur.type):
            bad = row_mask(cur, pc.invert(pc.match_substring_regex(cur.dictionary, CURRENCY_RE)))
            codes = used_values(cur).to_pylist()
        else:
            bad = pc.invert(pc.match_substring_regex(cur, CURRENCY_RE))
            codes = pc.unique(cur.drop_null()).to_pylist()
        ctx.add_masked(
            bad,
            cur,
            "BillingCurrency",
            "an ISO 4217 currency code such as USD",
            lambda v: f"{short_repr(v)} is not an ISO 4217 currency code",
        )
        for code in codes:
            if code not in self.currencies:
                self.currencies.append(code)
        if self.allow_mixed_currency or len(self.currencies) < 2:
            return
        first = self.currencies[0]
        if is_text_dict(cur.type):
            other = row_mask(cur, pc.not_equal(cur.dictionary, first))
        else:
            other = pc.and_(pc.is_valid(cur), pc.not_equal(cur, first))
        ctx.add_masked(
            other,
            cur,
            "BillingCurrency",
            first,
            lambda v: (
                f"{short_repr(v)} differs from {first!r}, the billing currency of the first "
                f"row; a file must use one BillingCurrency (or pass --allow-mixed-currency / "
                f"allow_mixed_currency=True)"
            ),
        )

    # -- end of file ---------------------------------------------------------------
    def finish(self) -> list[str]:
        """Warnings gathered over the whole file, in a stable order."""
        notes = []
        for (column, raw), (fixed, count) in sorted(self._case_fixes.items()):
            notes.append(f"{column}: {count} value(s) {raw!r} read as the FOCUS value {fixed!r}")
        for column, (count, first) in sorted(self._soft_nulls.items()):
            notes.append(
                f"{column}: {count} row(s) have no value although FOCUS does not allow "
                f"nulls (first at row {first}); kept as null"
            )
        for column, seen in sorted(self._unknown_soft.items()):
            listing = ", ".join(f"{v!r} ({c} rows)" for v, c in sorted(seen.items()))
            notes.append(
                f"{column}: values not in the FOCUS {self.version} list kept as is: {listing}"
            )
        if len(self.currencies) > 1:
            notes.append(
                f"BillingCurrency: the file mixes {len(self.currencies)} currencies "
                f"({', '.join(self.currencies)}); totals are reported per currency"
            )
        return notes
