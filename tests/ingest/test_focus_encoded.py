"""Parquet text columns are read dictionary-encoded and checked per distinct value.

The oracle is the plain path: the same table read without dictionaries and run through
:class:`BatchNormaliser` row by row (as CSV input is). Both must give the same values, the
same warnings and the same errors (row, column, value, message) — including when a row
group's dictionary holds a bad value that no row of the current batch uses.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fixtures_gen.focus_files import write_focus_file
from ingest.focus import FocusValidationError, open_focus
from ingest.focus.normalise import BatchNormaliser, encoded_schema
from ingest.focus.schema import CANONICAL_SCHEMA


def _base(tmp: Path, rows: int = 120) -> pa.Table:
    src = tmp / "base.parquet"
    write_focus_file(src, version="1.2", rows=rows, seed=11)
    return pq.read_table(src)


def _with(table: pa.Table, column: str, cells: dict[int, str | None]) -> pa.Table:
    """``table`` with 1-based data rows of ``column`` replaced."""
    values = table.column(column).to_pylist()
    for row, v in cells.items():
        values[row - 1] = v
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values))


def _write(tmp: Path, table: pa.Table, row_group: int) -> Path:
    path = tmp / "t.parquet"
    pq.write_table(table, path, row_group_size=row_group)
    return path


def _plain_oracle(table: pa.Table, batch_rows: int) -> tuple[pa.Table | None, list, list]:
    """(canonical table, errors, warnings) by the plain, row-by-row path."""
    norm = BatchNormaliser(table.schema, "1.2", "t.parquet", null_strings=True)
    out = []
    for first in range(0, table.num_rows, batch_rows):
        batch = table.slice(first, batch_rows).combine_chunks().to_batches()[0]
        try:
            out.append(norm.normalise(batch, first + 1))
        except FocusValidationError as exc:
            return None, _errors(exc), []
    return pa.Table.from_batches(out, schema=CANONICAL_SCHEMA), [], norm.finish()


def _errors(exc: FocusValidationError) -> list[tuple]:
    return [(e.row, e.column, e.value, e.message) for e in exc.errors]


def _read(path: Path, batch_rows: int, encoded: bool) -> tuple[pa.Table | None, list, list]:
    stream = open_focus(path, batch_rows=batch_rows)
    try:
        batches = list(stream.iter_encoded() if encoded else stream)
    except FocusValidationError as exc:
        return None, _errors(exc), []
    schema = encoded_schema() if encoded else CANONICAL_SCHEMA
    assert all(b.schema == schema for b in batches)
    table = pa.Table.from_batches(batches, schema=schema)
    if encoded:  # decode for comparison
        table = pa.table(
            [
                c.combine_chunks().dictionary_decode() if pa.types.is_dictionary(c.type) else c
                for c in table.columns
            ],
            schema=CANONICAL_SCHEMA,
        )
    return table, [], stream.warnings


def test_encoded_and_plain_reads_equal_the_row_by_row_oracle(tmp_path):
    table = _base(tmp_path)
    table = _with(table, "ChargeCategory", {7: "usage", 50: " Purchase "})  # case fixes
    table = _with(table, "ResourceName", {3: "NULL", 4: ""})  # literal nulls
    table = _with(table, "Tags", {9: '{"b": 1, "a": "x"}', 10: '{"a":"x","b":1}', 11: "null"})
    # Row groups of 35 and batches of 50: batches span row groups with different dictionaries.
    path = _write(tmp_path, table, row_group=35)
    want, errors, warnings = _plain_oracle(table, 50)
    assert errors == []
    for encoded in (False, True):
        got, got_errors, got_warnings = _read(path, 50, encoded)
        assert got_errors == []
        assert got.equals(want), encoded
        assert got_warnings == warnings
    assert want["ResourceName"][2].as_py() is None and want["ResourceName"][3].as_py() is None
    assert want["Tags"][8].as_py() == want["Tags"][9].as_py() == '{"a":"x","b":1}'
    assert want["Tags"][10].as_py() is None
    assert any("'usage' read as the FOCUS value 'Usage'" in w for w in warnings)


CASES = {
    "bad-json": ("Tags", {35: "{not json", 80: "[1, 2]"}, [(35, "Tags"), (80, "Tags")]),
    "unknown-enum": ("ChargeCategory", {36: "Bogus"}, [(36, "ChargeCategory")]),
    "null-essential": (
        "ChargeCategory",
        {37: None, 38: "NULL"},
        [(37, "ChargeCategory"), (38, "ChargeCategory")],
    ),
    # not ISO 4217, and not the file's currency either: two errors
    "bad-currency": ("BillingCurrency", {39: "usd"}, [(39, "BillingCurrency")] * 2),
    "mixed-currency": ("BillingCurrency", {33: "EUR"}, [(33, "BillingCurrency")]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_errors_name_the_same_rows_as_the_plain_path(tmp_path, case):
    column, cells, where = CASES[case]
    table = _with(_base(tmp_path), column, cells)
    # One row group of 120 rows read in batches of 10: the first batches share a dictionary
    # holding the bad value but never use it, and must pass.
    path = _write(tmp_path, table, row_group=120)
    _, want, _ = _plain_oracle(table, 10)
    assert [(e[0], e[1]) for e in want] == [w for w in where if w[0] <= (want[0][0] // 10 + 1) * 10]
    for encoded in (False, True):
        _, got, _ = _read(path, 10, encoded)
        assert got == want, (case, encoded)


def test_column_values_stay_dictionary_encoded_and_write_back_as_plain_text(tmp_path):
    from planner.billing.store import parquet_writer

    table = _base(tmp_path, rows=60)
    path = _write(tmp_path, table, row_group=60)
    batches = list(open_focus(path).iter_encoded())
    assert pa.types.is_dictionary(batches[0].schema.field("ServiceName").type)
    out = tmp_path / "out.parquet"
    writer = parquet_writer(out, batches[0].schema)
    for b in batches:
        writer.write_batch(b)
    writer.close()
    back = pq.read_table(out)
    assert back.schema == CANONICAL_SCHEMA.remove_metadata()
    plain = open_focus(path).read_all()
    assert back.equals(plain.replace_schema_metadata(None))
    assert pc.sum(back["BilledCost"]).as_py() == pytest.approx(pc.sum(table["BilledCost"]).as_py())


def test_extension_objects_per_combination_equal_the_per_row_build():
    from ingest.focus.convert import _json_objects, extensions_json

    a = pa.array(["H100", None, 'say "hi"', "H100", None, "é\n"] * 50)
    b = pa.array([1, 2, None, 1, None, 3] * 50)
    c = pa.array(["x", "y"] * 150).dictionary_encode()
    got = extensions_json({"x_Gpu": a, "x_Count": b, "x_C": c}, 300)
    assert pa.types.is_dictionary(got.type)
    assert len(got.dictionary) <= 12  # one object per distinct combination
    per_row = _json_objects(
        {
            "x_Gpu": a.dictionary_encode(),
            "x_Count": b.cast(pa.string()).dictionary_encode(),
            "x_C": c,
        }
    )
    assert got.dictionary_decode().equals(per_row)
    assert got[0].as_py() == '{"x_Gpu":"H100","x_Count":"1","x_C":"x"}'
    assert got[2].as_py() == '{"x_Gpu":"say \\"hi\\"","x_C":"x"}'
    assert got.dictionary_decode()[4].as_py() == '{"x_C":"x"}'
    none = extensions_json({"x_A": pa.array([None, None], pa.string())}, 2)
    assert none.null_count == 2
