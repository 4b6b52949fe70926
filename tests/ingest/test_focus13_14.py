"""FOCUS 1.3 and 1.4 cost-and-usage files from a provider-shaped generator, read into the
canonical FOCUS 1.4 shape; deprecated columns mapped both ways; versions newer than 1.4
refused by name. Totals are checked against pandas sums of the raw files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from focus_toolkit import convert_to_14, generate

from ingest.focus import open_focus
from ingest.focus.errors import FocusValidationError, UnsupportedVersionError
from ingest.focus.schema import (
    CANONICAL_SCHEMA,
    allowed_values,
    detect_version,
    required_columns,
)
from ingest.focus.validate import summarise
from ingest.focus.versions import downgrade_table

PROVIDERS = ["aws", "azure", "gcp"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("toolkit")
    out: dict[str, Path] = {}
    for p in PROVIDERS:
        d = generate(root / f"{p}13", p, "1.3")
        out[f"{p}13"] = d / f"focus_1_3_cost_and_usage_{p}.csv"
        out[f"{p}13cc"] = d / f"focus_1_3_contract_commitment_{p}.csv"
    d14 = convert_to_14(root / "aws13", "aws", root / "aws14")
    for name in ("cost_and_usage", "contract_commitment", "billing_period", "invoice_detail"):
        out[f"aws14_{name}"] = d14 / f"synthetic_focus_1_4_{name}.csv"
    out["aws12"] = generate(root / "aws12", "aws", "1.2") / "focus_1_2_cost_and_usage_aws.csv"
    return out


def _raw(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_focus13_provider_file_is_read_as_13_with_exact_totals(generated, provider):
    path = generated[f"{provider}13"]
    raw = _raw(path)
    s = summarise(path)
    assert (s.version, s.dataset, s.rows) == ("1.3", "Cost and Usage", len(raw))
    assert round(s.billed_cost_total, 6) == round(raw["BilledCost"].astype(float).sum(), 6)
    assert round(s.effective_cost_total, 6) == round(raw["EffectiveCost"].astype(float).sum(), 6)
    # The spec's ServiceSubcategory list: no false warnings on a provider file.
    assert not [w for w in s.warnings if w.startswith("ServiceSubcategory")], s.warnings


@pytest.mark.parametrize("provider", PROVIDERS)
def test_focus13_new_columns_are_stored_not_moved_to_extensions(generated, provider):
    path = generated[f"{provider}13"]
    raw = _raw(path)
    table = open_focus(path).read_all()
    assert table.schema == CANONICAL_SCHEMA
    for col in (
        "ServiceProviderName",
        "HostProviderName",
        "AllocatedMethodId",
        "AllocatedResourceId",
        "AllocatedResourceName",
    ):
        assert table[col].to_pylist() == [None if pd.isna(v) else v for v in raw[col]], col
    for col in ("AllocatedTags", "AllocatedMethodDetails", "ContractApplied"):
        got = [None if v is None else json.loads(v) for v in table[col].to_pylist()]
        want = [None if pd.isna(v) else json.loads(v) for v in raw[col]]
        assert got == want, col
    assert table["AllocatedTags"].null_count < len(raw)  # the file does split-allocate
    for ext in table["x_Extensions"].drop_null().to_pylist():
        keys = set(json.loads(ext))
        assert not keys & {"AllocatedTags", "ServiceProviderName", "ContractApplied"}


def test_focus14_file_without_provider_name_is_accepted(generated):
    path = generated["aws14_cost_and_usage"]
    raw = _raw(path)
    assert "ProviderName" not in raw.columns and "PublisherName" not in raw.columns
    s = summarise(path)
    assert (s.version, s.dataset) == ("1.4", "Cost and Usage")
    assert round(s.billed_cost_total, 6) == round(raw["BilledCost"].astype(float).sum(), 6)
    table = open_focus(path).read_all()
    assert table["ServiceProviderName"].to_pylist() == raw["ServiceProviderName"].tolist()
    assert "ProviderName" not in required_columns("1.4")
    assert "ServiceProviderName" in required_columns("1.4")


def test_focus14_and_focus13_agree_on_the_same_charges(generated):
    """The 1.4 conversion of a 1.3 file holds the same charges: same canonical costs."""
    t13 = open_focus(generated["aws13"]).read_all()
    t14 = open_focus(generated["aws14_cost_and_usage"]).read_all()
    for col in ("BilledCost", "EffectiveCost", "ChargePeriodStart", "ServiceProviderName"):
        assert t13[col].to_pylist() == t14[col].to_pylist(), col


def test_focus13_deprecated_columns_map_both_ways(sample_path):
    """1.0 -> canonical 1.4 -> 1.2 gives back ProviderName and PublisherName exactly."""
    raw = pd.read_csv(sample_path, dtype=str, keep_default_na=False)
    table = open_focus(sample_path).read_all()
    assert table["ServiceProviderName"].to_pylist() == raw["ProviderName"].tolist()
    down = downgrade_table(table, "1.2")
    assert down.column_names[: len(down.column_names)] == [
        c for c in down.column_names if c != "x_Extensions"
    ]
    assert "ServiceProviderName" not in down.column_names
    assert down["ProviderName"].to_pylist() == raw["ProviderName"].tolist()
    assert down["PublisherName"].to_pylist() == raw["PublisherName"].tolist()
    assert down["BilledCost"].equals(table["BilledCost"])


def test_focus14_version_detection_names_each_release():
    cols = {v: _listed(v) for v in ("1.0", "1.1", "1.2", "1.3", "1.4")}
    for version, names in cols.items():
        assert detect_version(names) == version
    # A 1.3 file that already dropped the deprecated columns is read as 1.4.
    no_deprecated = [c for c in cols["1.3"] if c not in ("ProviderName", "PublisherName")]
    assert detect_version(no_deprecated) == "1.4"


def _listed(version: str) -> list[str]:
    from ingest.focus.schema import SPEC_DIR

    lines = (SPEC_DIR / f"focus_columns_v{version}.txt").read_text().splitlines()
    return [s for s in lines if s and not s.startswith("#")]


def test_focus14_newer_version_is_refused_by_name(generated, tmp_path):
    table = pa.Table.from_pandas(_raw(generated["aws14_cost_and_usage"]), preserve_index=False)
    path = tmp_path / "future.parquet"
    pq.write_table(table.replace_schema_metadata({"FocusVersion": "1.5"}), path)
    with pytest.raises(UnsupportedVersionError) as info:
        open_focus(path)
    assert info.value.version == "1.5"
    assert "FOCUS 1.5, newer than FOCUS 1.4" in str(info.value)
    ok = tmp_path / "declared.parquet"
    pq.write_table(table.replace_schema_metadata({"focus_version": "1.4"}), ok)
    assert open_focus(ok).version == "1.4"


def test_focus14_service_subcategory_list_is_the_specs():
    for version in ("1.1", "1.2", "1.3", "1.4"):
        sub = allowed_values(version)["ServiceSubcategory"]
        assert len(sub.values) == 82
        for v in (
            "Relational Databases",
            "NoSQL Databases",
            "Network Connectivity",
            "AI Platforms",
            "Block Storage",
            "Other (Other)",
        ):
            assert v in sub.values
        for wrong in ("Relational", "NoSQL", "Disk", "Load Balancing", "Quantum"):
            assert wrong not in sub.values
        parents = dict(zip(sub.values, sub.parents, strict=True))
        assert parents["Generative AI"] == "AI and Machine Learning"
        assert parents["Block Storage"] == "Storage"
        assert set(sub.parents) == set(allowed_values(version)["ServiceCategory"].values)
    assert "ServiceSubcategory" not in allowed_values("1.0")


def test_focus13_errors_stay_row_precise(generated, tmp_path):
    src = generated["aws13"]
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    rows[17][header.index("BilledCost")] = "12,5"
    rows[250][header.index("ChargeCategory")] = "Refund"
    rows[120][header.index("AllocatedTags")] = "{not json"
    bad = tmp_path / "bad13.csv"
    with open(bad, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(FocusValidationError) as info:
        open_focus(bad, batch_rows=100).read_all()
    got = {(e.row, e.column) for e in info.value.errors}
    assert got == {(17, "BilledCost")}  # first failing batch: rows 1-100
    with pytest.raises(FocusValidationError) as info:
        open_focus(bad, batch_rows=1000).read_all()
    got = {(e.row, e.column) for e in info.value.errors}
    assert got == {(17, "BilledCost"), (120, "AllocatedTags"), (250, "ChargeCategory")}


def test_focus14_cli_prints_version_and_dataset(generated):
    for key, expect in (
        ("aws14_cost_and_usage", "valid FOCUS 1.4 Cost and Usage (csv)"),
        ("aws13", "valid FOCUS 1.3 Cost and Usage (csv)"),
        ("aws12", "valid FOCUS 1.2 Cost and Usage (csv)"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "ingest", "validate", str(generated[key])],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert expect in proc.stdout
