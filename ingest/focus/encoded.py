"""Dictionary-encoded text columns: validate the distinct values once, not every row.

Parquet stores FOCUS text columns dictionary-encoded (a few hundred distinct values per
row group for millions of rows), and the reader keeps them so
(``dictionary<int32, string>``). The helpers here run a check or a conversion on the
*dictionary* and map the outcome back to rows through the indices, so the cost of a check
no longer grows with the row count. A dictionary may hold values no row uses (one
dictionary serves a whole row group); row masks are always taken through the indices, so
such values never produce an error.

Invariant kept by every helper: the dictionary itself holds no nulls; a null row is a
null index (so ``null_count`` and ``is_null`` mean what they mean for plain arrays).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

TEXT_DICT = pa.dictionary(pa.int32(), pa.string())


def is_text_dict(t: pa.DataType) -> bool:
    """Whether ``t`` is a dictionary type of (large) strings."""
    return pa.types.is_dictionary(t) and (
        pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    )


def as_text_dict(arr: pa.Array) -> pa.DictionaryArray:
    """``arr`` (dictionary of text, or text) as ``dictionary<int32, string>``, no null values."""
    if arr.type == TEXT_DICT:
        return arr
    if not pa.types.is_dictionary(arr.type):
        return pc.dictionary_encode(pc.cast(arr, pa.string()))
    values, indices = arr.dictionary, arr.indices
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    if indices.type != pa.int32():
        indices = pc.cast(indices, pa.int32())
    return with_values(indices, values)


def with_values(indices: pa.Array, values: pa.Array) -> pa.DictionaryArray:
    """A dictionary array of ``values`` at ``indices``; rows whose value is null get a null
    index (keeps the no-null-values invariant)."""
    if values.null_count:
        row_null = pc.fill_null(pc.take(pc.is_null(values), indices), False)
        indices = pc.if_else(row_null, None, indices)
        values = pc.fill_null(values, "")
    # Indices come from a valid dictionary array of the same dictionary length: no
    # bounds check (it costs as much as the rest of a column's validation).
    return pa.DictionaryArray.from_arrays(indices, values, safe=False)


def map_values(arr: pa.DictionaryArray, fn: Callable[[pa.Array], pa.Array]) -> pa.DictionaryArray:
    """Apply ``fn`` (values -> same-length values, may return nulls) to the dictionary."""
    return with_values(arr.indices, fn(arr.dictionary))


def row_mask(arr: pa.DictionaryArray, value_mask: pa.Array) -> pa.Array:
    """Per-row boolean from a per-dictionary-value boolean (null rows -> false)."""
    return pc.fill_null(pc.take(value_mask, arr.indices), False)


def used_values(arr: pa.DictionaryArray) -> pa.Array:
    """The distinct values that rows reference, in order of first appearance (as
    ``pc.unique`` of the decoded rows)."""
    return arr.dictionary.take(pc.unique(arr.indices.drop_null()))


def nullify_blank(arr: pa.DictionaryArray) -> pa.DictionaryArray:
    """The literal ``NULL`` and empty strings become null rows (as in CSV)."""
    values = arr.dictionary
    blank = pc.or_(pc.equal(values, ""), pc.equal(values, "NULL"))
    if not pc.any(blank).as_py():
        return arr
    return with_values(arr.indices, pc.if_else(blank, None, values))
