"""FOCUS column specs per release, the canonical schema and version detection."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingest.focus import CANONICAL_SCHEMA, NotFocusError, detect_version
from ingest.focus.schema import (
    SPEC_DIR,
    all_column_specs,
    allowed_values,
    check_header,
    columns_for,
    required_columns,
)


def _listed(version: str) -> list[str]:
    lines = (SPEC_DIR / f"focus_columns_v{version}.txt").read_text().splitlines()
    return [s for s in lines if s and not s.startswith("#")]


def test_column_counts_per_release():
    assert [len(columns_for(v)) for v in ("1.0", "1.1", "1.2")] == [43, 50, 57]
    # FOCUS only added columns between these releases.
    assert {c.name for c in columns_for("1.0")} < {c.name for c in columns_for("1.1")}
    assert {c.name for c in columns_for("1.1")} < {c.name for c in columns_for("1.2")}


def test_canonical_schema_is_focus_1_4_plus_extensions():
    assert CANONICAL_SCHEMA.names == _listed("1.4") + ["x_Extensions"]
    types = dict(zip(CANONICAL_SCHEMA.names, CANONICAL_SCHEMA.types, strict=True))
    ts = pa.timestamp("us", tz="UTC")
    for name in (
        "BilledCost",
        "EffectiveCost",
        "ListCost",
        "ContractedCost",
        "PricingQuantity",
        "ConsumedQuantity",
        "ListUnitPrice",
        "CommitmentDiscountQuantity",
        "PricingCurrencyEffectiveCost",
    ):
        assert types[name] == pa.float64(), name
    for name in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"):
        assert types[name] == ts
    for name in ("Tags", "SkuPriceDetails", "ChargeCategory", "ResourceId", "x_Extensions"):
        assert types[name] == pa.string()
    assert sum(t == pa.float64() for t in CANONICAL_SCHEMA.types) == 12
    assert sum(t == ts for t in CANONICAL_SCHEMA.types) == 4


def test_specs_match_the_csv_metadata():
    specs = all_column_specs()
    assert len(specs) == 67  # 57 of 1.0-1.2, 8 added by 1.3, 2 by 1.4
    billed = specs["BilledCost"]
    assert (billed.feature_level, billed.allows_nulls, billed.data_type) == (
        "Mandatory",
        False,
        "Decimal",
    )
    assert specs["Tags"].kind == "json" and specs["Tags"].allows_nulls
    assert specs["InvoiceId"].versions == frozenset({"1.2", "1.3", "1.4"})
    assert specs["SkuMeter"].versions == frozenset({"1.1", "1.2", "1.3", "1.4"})
    assert specs["ProviderName"].versions == frozenset({"1.0", "1.1", "1.2", "1.3"})
    assert specs["ProviderName"].deprecated_in == "1.3"


def test_required_columns():
    req = required_columns("1.0")
    assert "BilledCost" in req and "ChargePeriodStart" in req and "ServiceName" in req
    assert "Tags" not in req and "ResourceId" not in req
    assert len(req) == 21
    assert set(required_columns("1.0")) <= set(required_columns("1.2"))


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_allowed_values(version):
    allowed = allowed_values(version)
    assert allowed["ChargeCategory"].values == ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
    assert set(allowed["PricingCategory"].values) == {"Standard", "Dynamic", "Committed", "Other"}
    assert set(allowed["ChargeFrequency"].values) == {"One-Time", "Recurring", "Usage-Based"}
    assert set(allowed["CommitmentDiscountStatus"].values) == {"Used", "Unused"}
    assert set(allowed["CommitmentDiscountCategory"].values) == {"Spend", "Usage"}
    assert allowed["ChargeClass"].values == ("Correction",)
    assert len(allowed["ServiceCategory"].values) == 19
    assert ("CapacityReservationStatus" in allowed) == (version != "1.0")
    if version != "1.0":
        sub = allowed["ServiceSubcategory"]
        assert sub.severity == "warning" and "Generative AI" in sub.values


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_detect_version_from_full_header(version):
    assert detect_version(_listed(version)) == version


def test_detect_version_extra_and_provider_columns():
    cols = _listed("1.0") + ["Id", "x_CostCategories"]
    assert detect_version(cols) == "1.0"
    assert detect_version(_listed("1.0") + ["SkuMeter"]) == "1.1"
    assert detect_version(_listed("1.0") + ["InvoiceId"]) == "1.2"
    assert detect_version(list(reversed(_listed("1.2")))) == "1.2"


def test_detect_version_rejects_non_focus():
    with pytest.raises(NotFocusError, match="not a FOCUS billing file") as info:
        detect_version(["lineItem/UnblendedCost", "lineItem/UsageStartDate", "product/region"])
    assert "looks like an AWS Cost and Usage Report" in str(info.value)
    assert "UnblendedCost" not in str(info.value)  # the header text itself is never echoed
    with pytest.raises(NotFocusError, match="case-sensitive"):
        detect_version([c.lower() for c in _listed("1.0")])


def test_check_header_lists_all_missing_columns_at_once():
    cols = [c for c in _listed("1.1") if c not in ("BilledCost", "PublisherName", "ChargeClass")]
    with pytest.raises(Exception) as info:
        check_header(cols, "f.csv")
    assert sorted(e.column for e in info.value.errors) == [
        "BilledCost",
        "ChargeClass",
        "PublisherName",
    ]
