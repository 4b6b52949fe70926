"""Invariants of the demo fleet generator and its load through the real storage path."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow.compute as pc
import pytest
from django.db.models import Sum

from planner.billing.loader import store
from planner.billing.models import BillingPeriodLoad, CostRollup
from planner.core import demo
from planner.usage.models import UsageSample

END = dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def generated():
    return demo.generate(days=35, seed=3, end=END, usage_step_min=15)


def test_generator_is_deterministic_for_a_seed(generated):
    billing, usage, _ = generated
    again_billing, again_usage, _ = demo.generate(days=35, seed=3, end=END, usage_step_min=15)
    assert billing["BilledCost"].sum() == again_billing["BilledCost"].sum()
    assert np.array_equal(
        usage["request_rate_rps"].to_numpy(), again_usage["request_rate_rps"].to_numpy()
    )
    other, _, _ = demo.generate(days=35, seed=4, end=END, usage_step_min=15)
    assert other["BilledCost"].sum() != billing["BilledCost"].sum()


def test_spot_hour_is_billed_at_the_catalog_spot_price(generated):
    billing, _, _ = generated
    catalog = demo.load_catalog()
    spot = billing[billing["PricingCategory"] == "Dynamic"]
    assert len(spot) > 0
    for (sku, region), rows in spot.groupby(["SkuId", "RegionId"]):
        provider = {"us-east-1": "aws", "us-central1": "gcp", "eastus": "azure"}[region]
        price = catalog[(provider, sku, region)]["spot_usd_per_hour"]
        np.testing.assert_allclose(rows["BilledCost"] / rows["PricingQuantity"], price, rtol=1e-12)


def test_committed_hours_cost_the_commitment_price_and_list_cost_is_on_demand(generated):
    billing, _, _ = generated
    catalog = demo.load_catalog()
    committed = billing[billing["PricingCategory"] == "Committed"]
    assert set(committed["CommitmentDiscountStatus"]) <= {"Used", "Unused"}
    for sku, rows in committed.groupby("SkuId"):
        offer = next(v for k, v in catalog.items() if k[1] == sku)
        np.testing.assert_allclose(
            rows["BilledCost"] / rows["PricingQuantity"], offer["commit_1y_usd_per_hour"]
        )
        np.testing.assert_allclose(
            rows["ListCost"] / rows["PricingQuantity"], offer["ondemand_usd_per_hour"]
        )


def test_no_negative_usage_and_utilisation_in_range(generated):
    _, usage, _ = generated
    for col in ("replicas", "request_rate_rps", "queue_depth", "units_of_work", "gpu_mem_used_gib"):
        assert (usage[col].fillna(0) >= 0).all(), col
    assert usage["gpu_util_pct"].between(0, 100).all()
    assert (usage["gpu_mem_used_gib"] <= usage["gpu_mem_total_gib"]).all()


def test_only_credits_are_negative(generated):
    billing, _, _ = generated
    negative = billing[billing["BilledCost"] < 0]
    assert len(negative) > 0 and set(negative["ChargeCategory"]) == {"Credit"}


def test_demand_has_daily_and_weekly_cycles(generated):
    _, usage, _ = generated
    chat = usage[usage["service"] == "chat-assistant"].set_index("ts")["request_rate_rps"]
    by_hour = chat.groupby(chat.index.hour).mean()
    assert by_hour.max() > 1.8 * by_hour.min()
    weekday = chat[chat.index.day_of_week < 5].mean()
    weekend = chat[chat.index.day_of_week >= 5].mean()
    assert weekend < 0.85 * weekday


@pytest.mark.django_db
def test_daily_totals_reconcile_between_line_items_and_rollups(demo_fleet):
    line_store = store()
    for load in BillingPeriodLoad.objects.all():
        table = line_store.read(load.account_id, load.billing_period_start, load.version)
        assert table.num_rows == load.rows
        days = pc.cast(table.column("ChargePeriodStart"), "date32")
        for day in pc.unique(days).to_pylist():
            mask = pc.equal(days, day)
            file_total = pc.sum(pc.filter(table.column("BilledCost"), mask)).as_py()
            db_total = CostRollup.objects.filter(account_id=load.account_id, date=day).aggregate(
                v=Sum("billed_cost")
            )["v"]
            assert abs(float(db_total) - file_total) < 0.01, (load.account_id, day)


@pytest.mark.django_db
def test_demo_attributes_gpu_cost_to_services_and_keeps_unallocated(demo_fleet):
    allocated = CostRollup.objects.filter(service__isnull=False).aggregate(v=Sum("billed_cost"))[
        "v"
    ]
    unallocated = CostRollup.objects.filter(service__isnull=True).aggregate(v=Sum("billed_cost"))[
        "v"
    ]
    assert allocated > Decimal("1000")
    assert unallocated != 0  # storage, credits and the stray instance are shown, not dropped
    assert UsageSample.objects.filter(deployment__service__slug="embeddings").count() == 45 * 96
