"""A corpus of malformed FOCUS inputs: each must fail with an error naming where and what.

Every case builds a bad file (mostly by corrupting one cell of a valid generated FOCUS
1.2 CSV), reads it, and checks the exact (row, column) of the reported problems and the
words of the message a user sees.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from focus_helpers import write_rows

from fixtures_gen.focus_files import write_focus_file
from ingest.focus import FocusValidationError, NotFocusError, open_focus


@dataclass
class Kit:
    tmp: Path
    base: list[list[str]]
    corrupt: Callable[..., Path]

    def without(self, *columns: str) -> Path:
        keep = [i for i, c in enumerate(self.base[0]) if c not in columns]
        return write_rows(self.tmp / "cols.csv", [[r[i] for i in keep] for r in self.base])

    def raw(self, data: bytes, name: str = "raw.csv") -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path

    def parquet(self, **replace: pa.Array) -> Path:
        src = self.tmp / "good.parquet"
        write_focus_file(src, version="1.2", rows=40, seed=3)
        table = pq.read_table(src)
        for name, arr in replace.items():
            table = table.set_column(table.schema.get_field_index(name), name, arr)
        out = self.tmp / "bad.parquet"
        pq.write_table(table, out)
        return out


def c(cells: dict[tuple[int, str], str]) -> Callable[[Kit], Path]:
    return lambda k: k.corrupt(cells)


def _gz_truncated(k: Kit) -> Path:
    good = k.tmp / "good.csv.gz"
    write_focus_file(good, version="1.2", rows=3000, seed=4)
    data = good.read_bytes()
    return k.raw(data[: len(data) // 2], "cut.csv.gz")


def _parquet_truncated(k: Kit) -> Path:
    good = k.tmp / "good.parquet"
    write_focus_file(good, version="1.2", rows=100, seed=4)
    data = good.read_bytes()
    return k.raw(data[:-300], "cut.parquet")


def _short_row(k: Kit) -> Path:
    rows = [list(r) for r in k.base]
    rows[9] = rows[9][:-3]
    return write_rows(k.tmp / "short.csv", rows)


def _bad_utf8(k: Kit) -> Path:
    path = k.corrupt({(5, "ServiceName"): "MARKER"})
    path.write_bytes(path.read_bytes().replace(b"MARKER", b"Compute \xff\xfe Engine"))
    return path


def _lower_header(k: Kit) -> Path:
    rows = [list(r) for r in k.base]
    rows[0][rows[0].index("BilledCost")] = "billedcost"
    return write_rows(k.tmp / "lower.csv", rows)


def _dup_header(k: Kit) -> Path:
    rows = [list(r) for r in k.base]
    rows[0][rows[0].index("ResourceName")] = "ResourceId"
    return write_rows(k.tmp / "dup.csv", rows)


N = 40  # rows in the base file
TS_LIST = [f"2025-12-0{d}T00:00:00Z" for d in range(1, 10)]  # before every ChargePeriodEnd

# id, builder, expected (row, column) pairs, substrings of str(error), error class
CASES: list[tuple[str, Callable[[Kit], Path], list[tuple[int | None, str | None]], list[str]]] = [
    (
        "text-in-cost",
        c({(17, "BilledCost"): "abc"}),
        [(17, "BilledCost")],
        ["row 17, column BilledCost: 'abc' is not a decimal number"],
    ),
    (
        "comma-decimal",
        c({(3, "EffectiveCost"): "12,50"}),
        [(3, "EffectiveCost")],
        ["row 3, column EffectiveCost: '12,50' is not a decimal number"],
    ),
    ("two-dots", c({(8, "ListCost"): "1.2.3"}), [(8, "ListCost")], ["'1.2.3'"]),
    (
        "nan-cost",
        c({(11, "ContractedCost"): "nan"}),
        [(11, "ContractedCost")],
        ["row 11, column ContractedCost: 'nan' is not a finite decimal number"],
    ),
    (
        "infinite-quantity",
        c({(12, "PricingQuantity"): "inf"}),
        [(12, "PricingQuantity")],
        ["'inf' is not a finite decimal number"],
    ),
    (
        "word-date",
        c({(4, "ChargePeriodStart"): "yesterday"}),
        [(4, "ChargePeriodStart")],
        ["row 4, column ChargePeriodStart: 'yesterday' is not a date-time", "2024-09-01T00:00:00Z"],
    ),
    (
        "impossible-date",
        c({(6, "ChargePeriodEnd"): "2026-02-30T00:00:00Z"}),
        [(6, "ChargePeriodEnd")],
        ["row 6, column ChargePeriodEnd: '2026-02-30T00:00:00Z'"],
    ),
    (
        "us-date-format",
        c({(2, "BillingPeriodStart"): "01/01/2026"}),
        [(2, "BillingPeriodStart")],
        ["'01/01/2026' is not a date-time"],
    ),
    (
        "unknown-charge-category",
        c({(20, "ChargeCategory"): "Refund"}),
        [(20, "ChargeCategory")],
        ["row 20, column ChargeCategory: 'Refund' is not an allowed ChargeCategory value", "Usage"],
    ),
    (
        "unknown-pricing-category",
        c({(21, "PricingCategory"): "Spot"}),
        [(21, "PricingCategory")],
        ["'Spot' is not an allowed PricingCategory value", "Dynamic"],
    ),
    (
        "unknown-charge-frequency",
        c({(22, "ChargeFrequency"): "Monthly"}),
        [(22, "ChargeFrequency")],
        ["'Monthly'", "Usage-Based"],
    ),
    (
        "unknown-commitment-status",
        c({(23, "CommitmentDiscountStatus"): "Partly used"}),
        [(23, "CommitmentDiscountStatus")],
        ["'Partly used'", "Unused"],
    ),
    (
        "unknown-charge-class",
        c({(24, "ChargeClass"): "Fix"}),
        [(24, "ChargeClass")],
        ["'Fix'", "Correction"],
    ),
    (
        "unknown-service-category",
        c({(25, "ServiceCategory"): "GPU"}),
        [(25, "ServiceCategory")],
        ["'GPU'", "AI and Machine Learning"],
    ),
    (
        "unknown-commitment-category",
        c({(26, "CommitmentDiscountCategory"): "Time"}),
        [(26, "CommitmentDiscountCategory")],
        ["'Time'", "Spend"],
    ),
    (
        "unknown-capacity-status",
        c({(27, "CapacityReservationStatus"): "Maybe"}),
        [(27, "CapacityReservationStatus")],
        ["'Maybe'"],
    ),
    (
        "charge-end-before-start",
        c(
            {
                (9, "ChargePeriodStart"): "2026-01-05T10:00:00Z",
                (9, "ChargePeriodEnd"): "2026-01-05T09:00:00Z",
            }
        ),
        [(9, "ChargePeriodEnd")],
        [
            "row 9, column ChargePeriodEnd: ChargePeriodEnd 2026-01-05T09:00:00Z is before ChargePeriodStart 2026-01-05T10:00:00Z"
        ],
    ),
    (
        "billing-end-before-start",
        c({(10, "BillingPeriodEnd"): "2025-12-01T00:00:00Z"}),
        [(10, "BillingPeriodEnd")],
        ["BillingPeriodEnd 2025-12-01T00:00:00Z is before BillingPeriodStart"],
    ),
    (
        "second-currency",
        c({(30, "BillingCurrency"): "EUR", (31, "BillingCurrency"): "EUR"}),
        [(30, "BillingCurrency"), (31, "BillingCurrency")],
        ["row 30, column BillingCurrency: 'EUR' differs from 'USD'", "--allow-mixed-currency"],
    ),
    (
        "currency-name",
        c({(14, "BillingCurrency"): "US Dollar"}),
        [(14, "BillingCurrency")],
        ["'US Dollar' is not an ISO 4217 currency code"],
    ),
    (
        "tags-not-json",
        c({(15, "Tags"): "{service: chat"}),
        [(15, "Tags")],
        ["row 15, column Tags: '{service: chat' is not a JSON object"],
    ),
    ("tags-json-array", c({(16, "Tags"): '["chat"]'}), [(16, "Tags")], ["is not a JSON object"]),
    (
        "sku-details-not-json",
        c({(18, "SkuPriceDetails"): "GpuCount=8"}),
        [(18, "SkuPriceDetails")],
        ["'GpuCount=8' is not a JSON object"],
    ),
    (
        "empty-billed-cost",
        c({(19, "BilledCost"): ""}),
        [(19, "BilledCost")],
        ["row 19, column BilledCost: BilledCost is empty"],
    ),
    (
        "null-charge-start",
        c({(7, "ChargePeriodStart"): "NULL"}),
        [(7, "ChargePeriodStart")],
        ["row 7, column ChargePeriodStart: ChargePeriodStart is empty"],
    ),
    (
        "several-in-one-batch",
        c({(2, "BilledCost"): "x", (5, "ChargeCategory"): "Nope", (13, "ListCost"): "--1"}),
        [(2, "BilledCost"), (5, "ChargeCategory"), (13, "ListCost")],
        ["3 problems"],
    ),
    (
        "missing-mandatory-columns",
        lambda k: k.without("BilledCost", "ChargeCategory", "ServiceName"),
        [(None, "BilledCost"), (None, "ChargeCategory"), (None, "ServiceName")],
        [
            "column BilledCost: mandatory FOCUS 1.2 column BilledCost is missing",
            "ChargeCategory",
            "ServiceName",
        ],
    ),
    (
        "case-of-header",
        _lower_header,
        [(None, "BilledCost")],
        ["found 'billedcost'; column names are case-sensitive"],
    ),
    (
        "duplicate-column",
        _dup_header,
        [(None, "ResourceId")],
        ["the header has column 'ResourceId' 2 times"],
    ),
    (
        "not-focus",
        lambda k: k.raw(b"date,amount,team\n2026-01-01,3.5,ml\n"),
        [(None, None)],
        ["not a FOCUS billing file", "its first line has 3 fields, FOCUS columns among them: none"],
    ),
    ("empty-file", lambda k: k.raw(b""), [(None, None)], ["the file is empty (0 bytes)"]),
    ("blank-file", lambda k: k.raw(b"\n\n  \n"), [(None, None)], ["no header row"]),
    (
        "bom-only",
        lambda k: k.raw(b"\xef\xbb\xbf"),
        [(None, None)],
        ["no header row", "byte-order mark"],
    ),
    (
        "header-only",
        lambda k: write_rows(k.tmp / "h.csv", [k.base[0]]),
        [(None, None)],
        ["header but no billing rows"],
    ),
    ("short-row", _short_row, [(9, None)], ["row 9: the row has", "fields but the header has"]),
    (
        "invalid-utf8",
        _bad_utf8,
        [(5, "ServiceName")],
        ["row 5, column ServiceName", "not valid UTF-8"],
    ),
    ("truncated-gzip", _gz_truncated, [(None, None)], ["gzip data is truncated or corrupt"]),
    ("truncated-parquet", _parquet_truncated, [(None, None)], ["not a readable Parquet file"]),
    (
        "parquet-cost-as-timestamp",
        lambda k: k.parquet(BilledCost=pa.array([0] * N, pa.timestamp("s"))),
        [(None, "BilledCost")],
        ["column BilledCost: the file stores BilledCost as type timestamp[", "Decimal"],
    ),
    (
        "parquet-date-as-bool",
        lambda k: k.parquet(ChargePeriodStart=pa.array([True] * N)),
        [(None, "ChargePeriodStart")],
        ["stores ChargePeriodStart as type bool"],
    ),
    (
        "parquet-text-cost",
        lambda k: k.parquet(BilledCost=pa.array(["1.5"] * 2 + ["twelve"] + ["2"] * (N - 3))),
        [(3, "BilledCost")],
        ["row 3, column BilledCost: 'twelve' is not a decimal number"],
    ),
    (
        "parquet-text-date",
        lambda k: k.parquet(ChargePeriodStart=pa.array(TS_LIST * 4 + ["soon"] * (N - 36))),
        [(37, "ChargePeriodStart")],
        ["row 37, column ChargePeriodStart: 'soon'"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[x[0] for x in CASES])
def test_malformed_input_names_row_column_and_value(case, tmp_path, base_rows, corrupt):
    _, build, where, texts = case
    path = build(Kit(tmp_path, base_rows, corrupt))
    with pytest.raises(FocusValidationError) as info:
        open_focus(path, batch_rows=16).read_all()
    err = info.value
    found = {(e.row, e.column) for e in err.errors}
    for loc in where:
        assert loc in found, f"expected an error at {loc}, got {sorted(found, key=str)}\n{err}"
    message = str(err)
    assert str(path) in message
    for text in texts:
        assert text in message, f"{text!r} not in:\n{message}"


def test_corpus_is_large_enough():
    assert len(CASES) >= 25
    assert len({x[0] for x in CASES}) == len(CASES)


def test_error_row_is_exact_across_batches(corrupt):
    path = corrupt({(37, "BilledCost"): "oops"})
    stream = open_focus(path, batch_rows=5)
    rows_seen = 0
    with pytest.raises(FocusValidationError) as info:
        for batch in stream:
            rows_seen += batch.num_rows
    assert [(e.row, e.value) for e in info.value.errors] == [(37, "oops")]
    assert rows_seen == 35  # the 7 batches before the one holding row 37 were good


def test_missing_columns_fail_before_any_row_is_read(tmp_path, base_rows):
    keep = [i for i, c in enumerate(base_rows[0]) if c not in ("EffectiveCost", "ProviderName")]
    path = write_rows(tmp_path / "m.csv", [[r[i] for i in keep] for r in base_rows])
    with pytest.raises(FocusValidationError) as info:
        open_focus(path)
    assert {e.column for e in info.value.errors} == {"EffectiveCost", "ProviderName"}
    assert all(e.row is None for e in info.value.errors)


def test_errors_per_batch_are_capped(corrupt):
    path = corrupt({(r, "BilledCost"): f"bad{r}" for r in range(1, 41)})
    with pytest.raises(FocusValidationError) as info:
        open_focus(path, batch_rows=100).read_all()
    rows = [e.row for e in info.value.errors]
    assert rows == list(range(1, 41))  # all 40 (< cap of 50), in row order
    assert "... and 20 more" in str(info.value)


def test_mixed_currency_allowed_when_asked(corrupt):
    path = corrupt({(30, "BillingCurrency"): "EUR"})
    stream = open_focus(path, allow_mixed_currency=True)
    table = stream.read_all()
    assert table.num_rows == 40
    assert any("mixes 2 currencies (USD, EUR)" in w for w in stream.warnings)


def test_not_focus_is_its_own_error_class(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(NotFocusError):
        open_focus(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_focus(tmp_path / "nope.csv")


def test_gzip_of_garbage_is_reported(tmp_path):
    path = tmp_path / "g.csv.gz"
    path.write_bytes(gzip.compress(b"x" * 10)[:12] + b"garbage" * 5)
    with pytest.raises(FocusValidationError, match="gzip data is truncated or corrupt"):
        open_focus(path).read_all()


def test_at_most_50_errors_are_collected_per_batch(corrupt):
    cells = {(r, col): "bad" for r in range(1, 41) for col in ("BilledCost", "ListCost")}
    with pytest.raises(FocusValidationError) as info:
        open_focus(corrupt(cells), batch_rows=100).read_all()
    assert len(info.value.errors) == 50
    assert info.value.first_row == 1


def test_unknown_service_subcategory_only_warns(corrupt):
    stream = open_focus(corrupt({(4, "ServiceSubcategory"): "GPU Farms"}))
    assert stream.read_all()["ServiceSubcategory"][3].as_py() == "GPU Farms"
    assert any("ServiceSubcategory" in w and "'GPU Farms' (1 rows)" in w for w in stream.warnings)


def test_literal_null_strings_in_parquet_are_nulls(tmp_path):
    src = tmp_path / "g.parquet"
    write_focus_file(src, version="1.2", rows=10, seed=1)
    t = pq.read_table(src)
    i = t.schema.get_field_index("ResourceName")
    t = t.set_column(i, "ResourceName", pa.array(["NULL", ""] + ["n"] * 8))
    pq.write_table(t, tmp_path / "n.parquet")
    got = open_focus(tmp_path / "n.parquet").read_all()["ResourceName"].to_pylist()
    assert got == [None, None] + ["n"] * 8
