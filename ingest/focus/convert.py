"""Vectorised conversion of one input column to its canonical FOCUS type.

Each converter takes a pyarrow array as read from the file (CSV: strings; Parquet: the
file's own types), returns the array in the canonical type and appends a
:class:`~ingest.focus.errors.FocusError` for every value it could not convert (up to a
cap). Fast paths are single pyarrow casts; the per-value Python work runs only on the
error path or on the *distinct* values of JSON columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from .encoded import as_text_dict, is_text_dict, nullify_blank, row_mask, with_values
from .errors import MAX_ERRORS_PER_BATCH, FocusError, short_repr

UTC_TS = pa.timestamp("us", tz="UTC")
NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
DATETIME_RE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$"
ZONE_RE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d:?\d\d)$"


class BatchContext:
    """Where a batch sits in the file, and the errors found in it so far."""

    def __init__(self, source: str, first_row: int) -> None:
        self.source = source
        self.first_row = first_row  # 1-based data row number of the batch's row 0
        self.errors: list[FocusError] = []

    @property
    def full(self) -> bool:
        return len(self.errors) >= MAX_ERRORS_PER_BATCH

    def add_masked(
        self,
        mask: pa.Array,
        values: pa.Array,
        column: str,
        expected: str,
        describe: Callable[[object], str],
    ) -> None:
        """Record an error for each row where ``mask`` is true (nulls count as false)."""
        if self.full:
            return
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        room = MAX_ERRORS_PER_BATCH - len(self.errors)
        idx = pc.indices_nonzero(mask).slice(0, room)
        for i, v in zip(idx.to_pylist(), values.take(idx).to_pylist(), strict=True):
            self.errors.append(
                FocusError(self.source, self.first_row + i, column, v, expected, describe(v))
            )


def is_stringish(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def accepts(kind: str, t: pa.DataType) -> bool:
    """Whether an input of Arrow type ``t`` can be read as a column of ``kind``."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_null(t) or is_stringish(t):
        return True
    if kind == "decimal":
        return is_numeric(t)
    if kind == "datetime":
        return pa.types.is_timestamp(t) or pa.types.is_date(t)
    if kind == "json":
        return pa.types.is_map(t) or pa.types.is_struct(t) or pa.types.is_binary(t)
    return is_numeric(t) or pa.types.is_boolean(t) or pa.types.is_binary(t)


def _plain(arr: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def nullify_text(arr: pa.Array) -> pa.Array:
    """Text columns: the literal ``NULL`` and empty strings become nulls (as in CSV).
    Dictionary-encoded text stays encoded (checked on its distinct values)."""
    if is_text_dict(arr.type):
        return nullify_blank(as_text_dict(arr))
    if not is_stringish(arr.type):
        return arr
    blank = pc.or_(pc.equal(arr, ""), pc.equal(arr, "NULL"))
    if not pc.any(blank).as_py():
        return arr
    return pc.if_else(blank, None, arr)


def _bad_by_probe(values: pa.Array, probe: Callable[[str], bool]) -> pa.Array:
    """Mask of values for which ``probe`` fails, testing each distinct value once."""
    uniq = pc.unique(values.drop_null())
    bad = [v for v in uniq.to_pylist() if not probe(v)]
    return pc.is_in(values, value_set=pa.array(bad, values.type))


def _casts(target: pa.DataType) -> Callable[[str], bool]:
    def probe(v: str) -> bool:
        try:
            pa.array([v]).cast(target)
            return True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False

    return probe


def to_decimal(arr: pa.Array, column: str, expected: str, ctx: BatchContext) -> pa.Array:
    """Any numeric or text column -> float64; unparseable or non-finite values -> errors."""
    arr = _plain(arr)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.float64())
    if not is_stringish(arr.type):
        out = pc.cast(arr, pa.float64(), safe=False)
    else:
        try:
            out = pc.cast(arr, pa.float64())
        except pa.ArrowInvalid:
            trimmed = pc.utf8_trim_whitespace(arr)
            try:
                out = pc.cast(trimmed, pa.float64())
            except pa.ArrowInvalid:
                bad = pc.invert(pc.match_substring_regex(trimmed, NUMBER_RE))
                if not pc.any(pc.fill_null(bad, False)).as_py():
                    bad = _bad_by_probe(trimmed, _casts(pa.float64()))
                ctx.add_masked(
                    bad, arr, column, expected, lambda v: f"{short_repr(v)} is not a decimal number"
                )
                out = pc.cast(pc.if_else(pc.fill_null(bad, False), None, trimmed), pa.float64())
    nonfinite = pc.invert(pc.is_finite(out))
    ctx.add_masked(
        nonfinite,
        arr,
        column,
        expected,
        lambda v: f"{short_repr(v)} is not a finite decimal number",
    )
    return out


def _parse_datetime_strings(s: pa.Array) -> pa.Array:
    """Strings -> timestamp[us, UTC]; strings without a zone are UTC. Raises ArrowInvalid."""
    zoned = pc.fill_null(pc.match_substring_regex(s, ZONE_RE), False)
    n_zoned = pc.sum(zoned).as_py() or 0
    if n_zoned == 0:
        return pc.cast(pc.cast(s, pa.timestamp("us")), UTC_TS)
    if n_zoned == len(s) - s.null_count:
        return pc.cast(s, UTC_TS)
    naive = pc.cast(pc.cast(pc.if_else(zoned, None, s), pa.timestamp("us")), UTC_TS)
    return pc.if_else(zoned, pc.cast(pc.if_else(zoned, s, None), UTC_TS), naive)


def to_datetime(arr: pa.Array, column: str, expected: str, ctx: BatchContext) -> pa.Array:
    """Timestamps, dates or ISO 8601 text -> timestamp[us, UTC]; bad values -> errors."""
    arr = _plain(arr)
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), UTC_TS)
    if pa.types.is_timestamp(t):
        if t.tz is None:
            return pc.cast(pc.cast(arr, pa.timestamp("us"), safe=False), UTC_TS)
        return pc.cast(arr, UTC_TS, safe=False)
    if pa.types.is_date(t):
        return pc.cast(pc.cast(arr, pa.timestamp("us")), UTC_TS)
    try:
        return _parse_datetime_strings(arr)
    except pa.ArrowInvalid:
        pass
    # Slow path: tidy (trim, 'T'/' ', sub-microsecond digits) then locate what still fails.
    s = pc.utf8_trim_whitespace(arr)
    s = pc.replace_substring_regex(s, r"(\.\d{6})\d+", r"\1")
    bad = pc.invert(pc.match_substring_regex(s, DATETIME_RE))
    bad = pc.fill_null(bad, False)
    if not pc.any(bad).as_py():
        bad = _bad_by_probe(s, _datetime_probe)
    ctx.add_masked(bad, arr, column, expected, lambda v: f"{short_repr(v)} is not a date-time")
    return _parse_datetime_strings(pc.if_else(bad, None, s))


def _datetime_probe(v: str) -> bool:
    try:
        _parse_datetime_strings(pa.array([v]))
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def _normalise_json(text: str) -> str | None:
    obj = json.loads(text)
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_json_object(arr: pa.Array, column: str, expected: str, ctx: BatchContext) -> pa.Array:
    """JSON text (or a Parquet map/struct) -> normalised JSON object text, or null.

    Each distinct value is parsed once (tags repeat a lot, so this is cheap); keys are
    sorted and separators compact, so equal tag sets compare equal as strings.
    Dictionary-encoded input gives dictionary-encoded output.
    """
    if is_text_dict(arr.type):
        return _json_dictionary(as_text_dict(arr), column, expected, ctx)
    arr = _plain(arr)
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_map(t) or pa.types.is_struct(t):
        rows = arr.to_pylist()
        out = [
            None
            if r is None
            else json.dumps(
                dict(r) if isinstance(r, list) else r,
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
                default=str,
            )
            for r in rows
        ]
        return pa.array(out, pa.string())
    if pa.types.is_binary(t):
        arr = to_string(arr, column, ctx)
    uniq = pc.unique(arr.drop_null())
    normalised, bad = _normalised_values(uniq)
    if bad:
        mask = pc.is_in(arr, value_set=pa.array(bad, pa.string()))
        ctx.add_masked(
            mask, arr, column, expected, lambda v: f"{short_repr(v)} is not a JSON object"
        )
    return pa.array(normalised, pa.string()).take(pc.index_in(arr, value_set=uniq))


def _normalised_values(values: pa.Array) -> tuple[list[str | None], list[str]]:
    """Each text normalised as a JSON object (None for JSON null), and the invalid texts."""
    normalised: list[str | None] = []
    bad: list[str] = []
    for text in values.to_pylist():
        try:
            normalised.append(_normalise_json(text))
        except ValueError:
            normalised.append(None)
            bad.append(text)
    return normalised, bad


def _json_dictionary(
    arr: pa.DictionaryArray, column: str, expected: str, ctx: BatchContext
) -> pa.DictionaryArray:
    normalised, bad = _normalised_values(arr.dictionary)
    if bad:
        bad_values = pc.is_in(arr.dictionary, value_set=pa.array(bad, pa.string()))
        ctx.add_masked(
            row_mask(arr, bad_values),
            arr,
            column,
            expected,
            lambda v: f"{short_repr(v)} is not a JSON object",
        )
    return with_values(arr.indices, pa.array(normalised, pa.string()))


def to_string(arr: pa.Array, column: str, ctx: BatchContext) -> pa.Array:
    """Any scalar column -> UTF-8 string; invalid UTF-8 bytes -> errors. Dictionary-encoded
    text stays encoded."""
    if is_text_dict(arr.type):
        return as_text_dict(arr)
    arr = _plain(arr)
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        try:
            return arr.cast(pa.string())
        except pa.ArrowInvalid:
            vals = arr.to_pylist()
            bad = [v is not None and not _is_utf8(v) for v in vals]
            mask = pa.array(bad)
            ctx.add_masked(
                mask, arr, column, "UTF-8 text", lambda v: f"{short_repr(v)} is not valid UTF-8"
            )
            return pa.array([None if b else v for v, b in zip(vals, bad, strict=True)]).cast(
                pa.string()
            )
    return pc.cast(arr, pa.string())


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def json_string_literal(arr: pa.Array) -> pa.Array:
    """Strings -> JSON string literals (quoted, escaped); nulls stay null. Vectorised."""
    a = pc.replace_substring(arr, "\\", "\\\\")
    a = pc.replace_substring(a, '"', '\\"')
    if pc.any(pc.fill_null(pc.match_substring_regex(a, "[\\x00-\\x1f]"), False)).as_py():
        for code in range(32):
            ch = chr(code)
            a = pc.replace_substring(a, ch, _SHORT_ESCAPES.get(ch, f"\\u{code:04x}"))
    return pc.binary_join_element_wise('"', a, '"', "")


def _text(arr: pa.Array) -> pa.Array:
    text = _plain(arr)
    if pa.types.is_string(text.type):
        return text
    try:
        return pc.cast(text, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array(
            [None if v is None else json.dumps(v, default=str) for v in text.to_pylist()],
            pa.string(),
        )


def key_of(name: str) -> str:
    return "," + json.dumps(name, ensure_ascii=False) + ":"


def extensions_json(columns: dict[str, pa.Array], length: int) -> pa.Array:
    """One JSON object per row of the given extension columns (nulls omitted), or null.

    Returned dictionary-encoded: the object text is built once per distinct combination of
    the columns' values (a few dozen in real exports), not once per row."""
    if not columns:
        return pa.nulls(length, pa.string())
    encs = {
        name: as_text_dict(arr) if is_text_dict(arr.type) else pc.dictionary_encode(_text(arr))
        for name, arr in columns.items()
    }
    sizes = [len(enc.dictionary) + 1 for enc in encs.values()]  # + 1: the null slot
    if math.prod(sizes) >= 2**62:  # combinations not countable in int64: build per row
        return _json_objects(encs)
    code = None  # mixed-radix number of the row's combination
    for enc, size in zip(encs.values(), sizes, strict=True):
        idx = pc.fill_null(pc.cast(enc.indices, pa.int64()), size - 1)
        code = idx if code is None else pc.add(pc.multiply(code, size), idx)
    combos = pc.dictionary_encode(code)
    digits: list[list[int]] = [[] for _ in sizes]
    for value in combos.dictionary.to_pylist():
        for k in range(len(sizes) - 1, -1, -1):
            value, digit = divmod(value, sizes[k])
            digits[k].append(digit)
    small = {
        name: pa.DictionaryArray.from_arrays(
            pa.array([None if d == size - 1 else d for d in ds], pa.int32()), enc.dictionary
        )
        for (name, enc), size, ds in zip(encs.items(), sizes, digits, strict=True)
    }
    return with_values(combos.indices, _json_objects(small))


def _json_objects(encs: dict[str, pa.DictionaryArray]) -> pa.Array:
    """Per row, the JSON object of the (dictionary-encoded) columns, or null if all null."""
    parts = []
    for name, enc in encs.items():
        # Escape each distinct value once.
        frags = pc.binary_join_element_wise(key_of(name), json_string_literal(enc.dictionary), "")
        parts.append(pc.fill_null(frags.take(enc.indices), ""))
    joined = pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else parts[0]
    body = pc.utf8_slice_codeunits(joined, 1)
    obj = pc.binary_join_element_wise("{", body, "}", "")
    return pc.if_else(pc.equal(joined, ""), None, obj)
