"""``python -m ingest validate`` run as a real subprocess (no Django, no database)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from fixtures_gen.focus_files import write_focus_file


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args], capture_output=True, text=True, timeout=120
    )


def test_valid_sample_prints_summary_and_exits_0(sample_path):
    raw = pd.read_csv(sample_path, na_values=["NULL"])
    proc = run("validate", str(sample_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "valid FOCUS 1.0 Cost and Usage (csv)" in out
    assert "rows:            1,000" in out
    assert "billing currency: USD" in out
    assert f"BilledCost:      {raw['BilledCost'].sum():,.2f} USD" in out
    assert f"EffectiveCost:   {raw['EffectiveCost'].sum():,.2f} USD" in out
    assert "2024-09-01 .. 2024-10-01" in out
    assert "warning: ChargeFrequency" in out


def test_json_summary(tmp_path):
    g = write_focus_file(tmp_path / "f.parquet", version="1.2", rows=1200, seed=2, periods=2)
    proc = run("validate", str(g.path), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["valid"] is True
    assert (data["version"], data["rows"], data["currency"]) == ("1.2", 1200, "USD")
    assert [p["start"] for p in data["billing_periods"]] == [
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
    ]
    assert round(data["billed_cost_total"], 2) == round(g.billed_cost_total, 2)
    assert sum(p["rows"] for p in data["billing_periods"]) == 1200


def test_invalid_file_prints_errors_and_exits_1(corrupt):
    path = corrupt({(17, "BilledCost"): "abc", (3, "ChargeCategory"): "Refund"})
    proc = run("validate", str(path))
    assert proc.returncode == 1
    assert "row 17, column BilledCost: 'abc' is not a decimal number" in proc.stderr
    assert "row 3, column ChargeCategory: 'Refund'" in proc.stderr
    assert proc.stdout == ""


def test_invalid_file_json_lists_errors(corrupt):
    path = corrupt({(5, "BillingCurrency"): "EUR"})
    proc = run("validate", str(path), "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["valid"] is False
    assert [(e["row"], e["column"], e["value"]) for e in data["errors"]] == [
        (5, "BillingCurrency", "EUR")
    ]


def test_allow_mixed_currency_flag(corrupt):
    path = corrupt({(5, "BillingCurrency"): "EUR"})
    assert run("validate", str(path)).returncode == 1
    proc = run("validate", str(path), "--allow-mixed-currency")
    assert proc.returncode == 0, proc.stderr
    assert "billing currency: EUR/USD" in proc.stdout


def test_missing_file_exits_1(tmp_path):
    proc = run("validate", str(tmp_path / "nope.csv"))
    assert proc.returncode == 1
    assert "no such file" in proc.stderr


@pytest.mark.parametrize(
    "args", [(), ("validate",), ("frobnicate", "x"), ("validate", "f.csv", "--bogus")]
)
def test_usage_errors_exit_2(args):
    proc = run(*args)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_cli_does_not_import_django(sample_path):
    code = (
        "import sys, ingest.cli; "
        f"rc = ingest.cli.main(['validate', {str(sample_path)!r}]); "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'planner')]; "
        "sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
