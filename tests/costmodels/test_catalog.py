"""Price catalog: seed values, flagged assumptions, MIG profiles and connector updates."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from costmodels.catalog import (
    ASSUMED_AZURE_SPOT_FACTOR,
    ASSUMED_COMMIT_FACTORS,
    PriceCatalog,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def catalog() -> PriceCatalog:
    return PriceCatalog.load_default()


def test_all_three_clouds_loaded(catalog):
    counts = {p: len(catalog.offers(provider=p)) for p in ("aws", "azure", "gcp")}
    assert counts == {"aws": 106, "gcp": 984, "azure": 637}  # azure: rows with documented GPU count


def test_aws_offer_matches_seed_row(catalog):
    o = catalog.offer("aws", "g5.xlarge", "us-east-1")
    assert (o.gpu_model, o.gpu_count, o.gpu_memory_gib) == ("NVIDIA A10G", 1, 24)
    assert o.ondemand_usd_per_hour == 1.006
    assert o.spot_usd_per_hour == 0.4125 and o.spot_interruption_bucket == 4
    assert o.spot_price_source == "estimate_from_spot_advisor_savings"
    # AWS commitment is an assumption, flagged as one
    assert o.commit_1y_usd_per_hour == pytest.approx(1.006 * ASSUMED_COMMIT_FACTORS["aws"]["1y"])
    assert o.commit_3y_usd_per_hour == pytest.approx(1.006 * ASSUMED_COMMIT_FACTORS["aws"]["3y"])
    assert o.price_source["commit"].startswith("assumed_")


def test_multi_gpu_memory_is_per_gpu(catalog):
    o = catalog.offer("aws", "p4d.24xlarge", "us-east-1")
    assert o.gpu_count == 8 and o.gpu_memory_gib == 40 and o.total_gpu_memory_gib == 320
    nd = catalog.offers(provider="azure", gpu_model="A100 80GB SXM")[0]  # documented per GPU
    assert nd.gpu_memory_gib == 80


def test_gcp_list_prices_and_filled_cud_gaps_are_flagged(catalog):
    o = catalog.offer("gcp", "a2-highgpu-1g", "us-central1")
    assert o.commit_price_source == "list_cud" and o.spot_price_source == "list_spot_price"
    raw = pd.read_csv(REPO / "costmodels" / "data" / "gcp_gpu_prices.csv")
    gap = raw[raw.cud_1y_usd_per_hour.isna()].iloc[0]
    filled = catalog.offer("gcp", gap.machine_type, gap.region)
    assert filled.commit_price_source == "assumed_gcp_family_median_cud_ratio"
    assert (
        filled.commit_1y_usd_per_hour is None
        or filled.commit_1y_usd_per_hour < filled.ondemand_usd_per_hour
    )


def test_azure_spot_is_an_assumption_never_silent(catalog):
    o = catalog.offer("azure", "Standard_NC24ads_A100_v4", "eastus")
    assert o.spot_usd_per_hour == pytest.approx(
        o.ondemand_usd_per_hour * ASSUMED_AZURE_SPOT_FACTOR, abs=1e-6
    )
    assert o.spot_price_source == "assumed_azure_spot_factor"
    assert o.spot_interruption_bucket is None  # no bucket published; the rate uses the assumed one


def test_every_price_has_a_source(catalog):
    for o in catalog.offers():
        if o.spot_usd_per_hour is not None:
            assert o.spot_price_source
        if o.commit_1y_usd_per_hour is not None:
            assert o.commit_price_source
        assert o.ondemand_usd_per_hour > 0


def test_mig_profiles(catalog):
    a100 = catalog.offer("gcp", "a2-highgpu-1g", "us-central1")
    assert [m.name for m in a100.mig_profiles][:2] == ["1g.5gb", "2g.10gb"]
    assert catalog.offer("aws", "p5.4xlarge", "us-east-1").mig_profiles[0].name == "1g.10gb"
    assert catalog.offer("aws", "g4dn.xlarge", "us-east-1").mig_profiles == ()


def test_interruption_rate_from_bucket(catalog):
    o = catalog.offer("aws", "g5.xlarge", "us-east-1")  # bucket 4: >20 %, mid-point 25 %/month
    assert o.spot_interruption_rate_per_hour() == pytest.approx(-math.log(0.75) / 730)


def test_filters(catalog):
    l4 = catalog.offers(provider="gcp", region="us-central1", gpu_model="l4")
    assert l4 and all(o.gpu_model == "NVIDIA L4" and o.region == "us-central1" for o in l4)


def test_unknown_offer_names_the_regions_it_exists_in(catalog):
    with pytest.raises(KeyError, match="us-east-1"):
        catalog.offer("aws", "g5.xlarge", "eu-west-1")


def test_update_prices_records_source_and_reports_unknown():
    cat = PriceCatalog.load_default()
    rep = cat.update_prices(
        [
            {
                "provider": "aws",
                "instance_type": "g5.xlarge",
                "region": "us-east-1",
                "spot_usd_per_hour": 0.39,
            },
            {
                "provider": "aws",
                "instance_type": "g5.xlarge",
                "region": "eu-west-1",
                "spot_usd_per_hour": 0.4,
            },
        ],
        source="ec2_spot_price_history",
    )
    assert rep.updated == 1 and rep.unknown == (("aws", "g5.xlarge", "eu-west-1"),)
    o = cat.offer("aws", "g5.xlarge", "us-east-1")
    assert o.spot_usd_per_hour == 0.39 and o.spot_price_source == "ec2_spot_price_history"
    assert o.ondemand_price_source == "list"  # untouched field keeps its source


def test_update_prices_rejects_bad_rows_without_partial_apply():
    cat = PriceCatalog.load_default()
    before = cat.offer("gcp", "a2-highgpu-1g", "us-central1")
    rows = pd.DataFrame(
        {
            "provider": ["gcp", "gcp"],
            "instance_type": ["a2-highgpu-1g", "a2-highgpu-1g"],
            "region": ["us-central1", "us-east1"],
            "ondemand_usd_per_hour": [3.0, -1.0],
        }
    )
    with pytest.raises(ValueError, match=r"row 1, column ondemand_usd_per_hour"):
        cat.update_prices(rows, source="gcp_billing_catalog")
    assert cat.offer("gcp", "a2-highgpu-1g", "us-central1") == before


@pytest.mark.skipif(not (SHARED / "pricing").exists(), reason="../shared/data not present")
def test_copies_agree_with_shared_cross_cloud_table(catalog):
    allc = pd.read_csv(SHARED / "pricing" / "gpu_hourly_prices_all_clouds.csv")
    for row in allc[allc.cloud.isin(["aws", "gcp"])].sample(50, random_state=0).itertuples():
        o = catalog.offer(row.cloud, row.instance_type, row.region)
        assert o.ondemand_usd_per_hour == pytest.approx(row.ondemand_usd_per_hour)


def test_mig_slice_prices_its_share_of_one_gpu(catalog):
    p4d = catalog.offer("aws", "p4d.24xlarge", "us-east-1")  # 8 x A100 40GB
    s = p4d.mig_slice("3g.20gb")
    assert s.gpu_count == pytest.approx(3 / 7) and s.gpu_memory_gib == 20
    assert s.ondemand_usd_per_hour == pytest.approx(p4d.ondemand_usd_per_hour / 8 * 3 / 7, abs=1e-6)
    assert (
        s.instance_type == "p4d.24xlarge:3g.20gb" and s.ondemand_price_source == "derived_mig_share"
    )
    with pytest.raises(ValueError, match="no MIG"):
        catalog.offer("aws", "g4dn.xlarge", "us-east-1").mig_slice("1g.5gb")
