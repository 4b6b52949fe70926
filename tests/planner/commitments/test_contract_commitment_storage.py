"""The FOCUS datasets besides cost and usage, uploaded through ingestion like any FOCUS file:
detected, validated, stored (Parquet, FOCUS 1.4 shape), Contract Commitment feeding the
commitments inventory; a file that is no FOCUS dataset keeps its error."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from planner.billing import services
from planner.billing.models import RunSource, RunStatus
from planner.commitments.models import Commitment
from tests.factories import make_account

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ingest"))

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from focus_toolkit import convert_to_14, generate

    root = tmp_path_factory.mktemp("datasets")
    d13 = generate(root / "gcp13", "gcp", "1.3", rows=150, seed=5)
    d14 = convert_to_14(d13, "gcp", root / "gcp14")
    return {
        "cc13": d13 / "focus_1_3_contract_commitment_gcp.csv",
        "bp14": d14 / "synthetic_focus_1_4_billing_period.csv",
        "id14": d14 / "synthetic_focus_1_4_invoice_detail.csv",
    }


@pytest.fixture
def account():
    return make_account(provider="gcp", account_id="ds-gcp", name="Datasets")


def _ingest(account, path):
    run = services.create_run(account, RunSource.FOCUS_FILE, str(path))
    return services.execute_focus_run(run.pk)


def _canon(value) -> str:
    """Text as stored: JSON objects compare as JSON (the validator normalises key order)."""
    if value is None:
        return ""
    if value.startswith(("{", "[")):
        return json.dumps(json.loads(value), sort_keys=True)
    return value


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_contract_commitment_uploaded_through_ingestion_is_stored(account, files):
    run = _ingest(account, files["cc13"])
    assert run.status == RunStatus.SUCCEEDED, run.errors
    expected = _rows(files["cc13"])
    assert run.rows_stored == len(expected)
    assert any("FOCUS 1.3 Contract Commitment dataset stored" in w for w in run.warnings)
    for rec in expected:
        c = Commitment.objects.get(commitment_id=rec["ContractCommitmentId"])
        assert c.account_id == account.pk
        assert str(c.period_end) == rec["ContractCommitmentPeriodEnd"][:10]


@pytest.mark.parametrize(
    ("key", "dataset"), [("bp14", "billing_period"), ("id14", "invoice_detail")]
)
def test_contract_commitment_and_14_datasets_stored_as_parquet(
    account, files, key, dataset, settings
):
    run = _ingest(account, files[key])
    assert run.status == RunStatus.SUCCEEDED, run.errors
    stored = Path(settings.LINE_ITEM_STORE) / "datasets" / dataset / f"account={account.pk}"
    (parquet,) = stored.glob("*.parquet")
    table = pq.read_table(parquet)
    expected = _rows(files[key])
    assert table.num_rows == len(expected) == run.rows_stored
    assert set(expected[0]) <= set(table.column_names)
    text_cols = [f.name for f in table.schema if str(f.type) == "string" and f.name in expected[0]]
    assert text_cols
    for col in text_cols:  # text kept exactly; dates and amounts are typed by the validator
        got = [_canon(v) for v in table.column(col).to_pylist()]
        assert sorted(got) == sorted(_canon(r[col]) for r in expected), col


def test_contract_commitment_invalid_upload_fails_row_precise(account, files, tmp_path):
    rows = _rows(files["cc13"])
    rows[2]["ContractCommitmentCost"] = "twelve"
    bad = tmp_path / "cc_bad.csv"
    with bad.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    before = Commitment.objects.count()
    run = _ingest(account, bad)
    assert run.status == RunStatus.FAILED
    assert any("row 3" in e and "ContractCommitmentCost" in e for e in run.errors), run.errors
    assert Commitment.objects.count() == before  # nothing half-stored


def test_contract_commitment_routing_keeps_the_error_of_a_non_focus_file(account, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b,c\n1,2,3\n")
    run = _ingest(account, junk)
    assert run.status == RunStatus.FAILED
    assert "not a FOCUS billing file" in " ".join(run.errors)
