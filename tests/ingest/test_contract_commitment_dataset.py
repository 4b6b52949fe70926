"""The FOCUS Contract Commitment (1.3+), Billing Period and Invoice Detail (1.4) datasets:
detected by their columns, validated row by row, read into their FOCUS 1.4 shape."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from focus_toolkit import convert_to_14, generate

from ingest.focus.datasets import (
    BILLING_PERIOD,
    CONTRACT_COMMITMENT,
    INVOICE_DETAIL,
    dataset_specs,
    detect_dataset,
    newest,
    read_dataset,
)
from ingest.focus.errors import FocusValidationError, NotFocusError
from ingest.focus.validate import summarise


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cc")
    d13 = generate(root / "aws13", "aws", "1.3", rows=200, seed=11)
    d14 = convert_to_14(d13, "aws", root / "aws14")
    return {
        "cc13": d13 / "focus_1_3_contract_commitment_aws.csv",
        "cu13": d13 / "focus_1_3_cost_and_usage_aws.csv",
        "cc14": d14 / "synthetic_focus_1_4_contract_commitment.csv",
        "bp14": d14 / "synthetic_focus_1_4_billing_period.csv",
        "id14": d14 / "synthetic_focus_1_4_invoice_detail.csv",
        "cu14": d14 / "synthetic_focus_1_4_cost_and_usage.csv",
    }


def test_contract_commitment_columns_match_the_spec_lists():
    shared = Path(__file__).resolve().parents[3] / "shared/data/focus"
    listed = shared / "focus_contract_commitment_columns_v1.3.txt"
    if listed.exists():
        names = [s for s in listed.read_text().splitlines() if s and not s.startswith("#")]
        assert sorted(dataset_specs()[(CONTRACT_COMMITMENT, "1.3")].names) == sorted(names)
    assert len(newest(CONTRACT_COMMITMENT).names) == 30
    assert len(newest(BILLING_PERIOD).names) == 6
    assert len(newest(INVOICE_DETAIL).names) == 22
    assert (CONTRACT_COMMITMENT, "1.2") not in dataset_specs()


def test_contract_commitment_detected_by_columns(files):
    for key, want in (
        ("cc13", (CONTRACT_COMMITMENT, "1.3")),
        ("cc14", (CONTRACT_COMMITMENT, "1.4")),
        ("bp14", (BILLING_PERIOD, "1.4")),
        ("id14", (INVOICE_DETAIL, "1.4")),
        ("cu13", ("Cost and Usage", "1.3")),
        ("cu14", ("Cost and Usage", "1.4")),
    ):
        with open(files[key], newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert detect_dataset(header) == want, key
    with pytest.raises(NotFocusError):
        detect_dataset(["Date", "Amount", "Currency"])


@pytest.mark.parametrize("key", ["cc13", "cc14"])
def test_contract_commitment_read_into_the_14_shape_with_exact_amounts(files, key):
    raw = pd.read_csv(files[key], dtype=str)
    data = read_dataset(files[key])
    assert data.dataset == CONTRACT_COMMITMENT and data.rows == len(raw)
    assert data.table.column_names == [*newest(CONTRACT_COMMITMENT).names, "x_Extensions"]
    got = data.table["ContractCommitmentCost"].to_pylist()
    want = [None if pd.isna(v) else float(v) for v in raw["ContractCommitmentCost"]]
    assert got == want
    assert data.table["ContractCommitmentId"].to_pylist() == raw["ContractCommitmentId"].tolist()
    start = data.table["ContractCommitmentPeriodStart"].to_pylist()
    assert all(s.tzinfo is not None for s in start)
    if key == "cc13":  # 1.4-only columns exist, null
        assert data.table["ContractCommitmentLifecycleStatus"].null_count == len(raw)


def test_contract_commitment_errors_name_row_and_column(files, tmp_path):
    with open(files["cc13"], newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    h = rows[0]
    rows[3][h.index("ContractCommitmentCategory")] = "Spendy"
    rows[5][h.index("ContractCommitmentCost")] = "lots"
    rows[6][h.index("ContractCommitmentPeriodEnd")] = "next year"
    bad = tmp_path / "cc_bad.csv"
    with open(bad, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(FocusValidationError) as info:
        read_dataset(bad)
    got = {(e.row, e.column) for e in info.value.errors}
    assert got == {
        (3, "ContractCommitmentCategory"),
        (5, "ContractCommitmentCost"),
        (6, "ContractCommitmentPeriodEnd"),
    }
    assert "'Spendy' is not an allowed ContractCommitmentCategory value" in str(info.value)


def test_contract_commitment_missing_mandatory_column(files, tmp_path):
    raw = pd.read_csv(files["cc13"], dtype=str)
    path = tmp_path / "cc_missing.csv"
    raw.drop(columns=["ContractCommitmentPeriodEnd"]).to_csv(path, index=False)
    with pytest.raises(FocusValidationError) as info:
        read_dataset(path)
    assert [e.column for e in info.value.errors] == ["ContractCommitmentPeriodEnd"]
    assert "mandatory FOCUS 1.3 Contract Commitment column" in str(info.value)


def test_contract_commitment_invoice_detail_reconciles_with_cost_and_usage(files):
    """Invoice Detail's BilledCost adds up to the cost-and-usage file's BilledCost."""
    inv = summarise(files["id14"])
    cu = summarise(files["cu14"])
    assert inv.dataset == INVOICE_DETAIL
    assert round(inv.totals["BilledCost USD"], 6) == round(cu.billed_cost_total, 6)
    bp = read_dataset(files["bp14"])
    assert bp.table["BillingPeriodStatus"].to_pylist() == ["Closed"]


def test_contract_commitment_cli(files):
    proc = subprocess.run(
        [sys.executable, "-m", "ingest", "validate", str(files["cc13"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid FOCUS 1.3 Contract Commitment (csv)" in proc.stdout
    raw = pd.read_csv(files["cc13"])
    assert f"ContractCommitmentCost USD: {raw['ContractCommitmentCost'].sum():,.2f}" in proc.stdout
