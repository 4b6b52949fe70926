"""Instance type is not SKU: shared-node attribution and the current purchase mix find the
instances on CUR-, Azure- and Google-shaped bills, whose SkuId is a product code, a meter id or
a SKU id. Each bill goes through its real converter, FOCUS validation and the loader.

Hand calculation, the same for every provider (one day, on-demand price ``od``):

    tagged "<p>-a": 30 h on demand, 10 h spot, 48 h committed (list 48 × od)
    untagged on the same instance type: $100; usage 3 replicas (a) vs 1 replica (b) × 24 h
    -> attribution a $75, b $25; current mix: 48 h / 24 h = 2 committed replicas,
       spot share 10 / (10 + 30) = 0.25
"""

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from costmodels.catalog import InstanceOffer
from ingest.aws.cur import cur_to_focus
from ingest.canonical import CanonicalBatcher
from ingest.gcp.bigquery import standard_rows_to_focus
from planner.billing.attribution import shared_cost_by_service
from planner.billing.loader import load_batches
from planner.billing.models import CostRollup
from planner.whatif.engine import current_mix
from tests.factories import (
    make_account,
    make_deployment,
    make_hourly_samples,
    make_service,
)

pytestmark = pytest.mark.django_db
DAY = dt.date(2031, 7, 8)
START = dt.datetime.combine(DAY, dt.time.min, tzinfo=dt.UTC)
PERIOD = DAY.replace(day=1)
OD, SPOT, COMMIT = 4.0, 1.5, 2.5
#: (qty hours, kind): tagged rows of service a, then the untagged shared-node row ($100)
ROWS = [(30.0, "ondemand", True), (10.0, "spot", True), (48.0, "committed", True),
        (100.0 / OD, "ondemand", False)]  # fmt: skip
PRICE = {"ondemand": OD, "spot": SPOT, "committed": COMMIT}


def cur_batches(slug: str, instance_type: str, region: str) -> list[pa.RecordBatch]:
    """CUR 2.0-shaped rows (legacy tag columns): SkuId is product_sku, an opaque code."""
    lit = {"ondemand": "Usage", "spot": "Usage", "committed": "DiscountedUsage"}
    usage = {"ondemand": "BoxUsage", "spot": "SpotUsage", "committed": "BoxUsage"}
    rows = [
        {
            "bill_billing_period_start_date": dt.datetime.combine(
                PERIOD, dt.time.min, tzinfo=dt.UTC
            ),
            "bill_billing_period_end_date": dt.datetime(2031, 8, 1, tzinfo=dt.UTC),
            "bill_payer_account_id": "111122223333",
            "line_item_usage_account_id": "111122223333",
            "line_item_line_item_type": lit[kind],
            "line_item_usage_start_date": START,
            "line_item_usage_end_date": START + dt.timedelta(days=1),
            "line_item_product_code": "AmazonEC2",
            "line_item_usage_type": f"USE1-{usage[kind]}:{instance_type}",
            "line_item_usage_amount": qty,
            "line_item_unblended_cost": qty * PRICE[kind],
            "line_item_currency_code": "USD",
            "pricing_public_on_demand_cost": qty * OD,
            "pricing_term": "Reserved"
            if kind == "committed"
            else ("" if kind == "spot" else "OnDemand"),
            "pricing_purchase_option": "Spot" if kind == "spot" else "",
            "pricing_unit": "Hrs",
            "reservation_reservation_a_r_n": "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-1"
            if kind == "committed"
            else None,
            "reservation_effective_cost": qty * COMMIT if kind == "committed" else 0.0,
            "product_product_name": "Amazon Elastic Compute Cloud",
            "product_region_code": region,
            "product_instance_type": instance_type,
            "product_sku": "8KTTG4X5XKQ3T9TQ",
            "resource_tags_user_service": slug if tagged else None,
        }
        for qty, kind, tagged in ROWS
    ]
    return [CanonicalBatcher("test CUR").batch(cur_to_focus(pa.Table.from_pylist(rows)))]


def azure_batches(slug: str, instance_type: str, region: str) -> list[pa.RecordBatch]:
    """Azure FOCUS export-shaped rows: SkuId is a meter id, the VM size is in x_SkuDetails."""
    category = {"ondemand": "Standard", "spot": "Dynamic", "committed": "Committed"}
    cols: dict[str, list] = {}
    for qty, kind, tagged in ROWS:
        row = {
            "ProviderName": "Microsoft",
            "PublisherName": "Microsoft",
            "InvoiceIssuerName": "Microsoft",
            "BillingAccountId": "ea-1",
            "SubAccountId": "sub-1",
            "BillingCurrency": "USD",
            "BillingPeriodStart": PERIOD.isoformat(),
            "BillingPeriodEnd": "2031-08-01",
            "ChargePeriodStart": START.isoformat(),
            "ChargePeriodEnd": (START + dt.timedelta(days=1)).isoformat(),
            "ChargeCategory": "Usage",
            "BilledCost": qty * PRICE[kind],
            "EffectiveCost": qty * PRICE[kind],
            "ListCost": qty * OD,
            "PricingCategory": category[kind],
            "PricingQuantity": qty,
            "PricingUnit": "1 Hour",
            "ConsumedQuantity": qty,
            "RegionId": region,
            "ResourceId": f"/subscriptions/sub-1/resourceGroups/ml/providers/Microsoft.Compute/virtualMachineScaleSets/{kind}",
            "ServiceName": "Virtual Machines",
            "SkuId": "a3e0bf3c-6a77-4b3e-b5f2-1c0d2e7f9a10",
            "ChargeDescription": "NC24ads A100 v4",
            "Tags": json.dumps({"service": slug}) if tagged else None,
            "x_SkuMeterName": "NC24ads A100 v4",
            "x_SkuDetails": json.dumps({"ServiceType": instance_type, "VCPUs": 24}),
        }
        for k, v in row.items():
            cols.setdefault(k, []).append(v)
    return [CanonicalBatcher("test Azure export").batch(cols)]


def google_batches(slug: str, instance_type: str, region: str) -> list[pa.RecordBatch]:
    """Google billing export-shaped rows: SkuId is a SKU id, the machine type a system label."""
    desc = {
        "ondemand": "L4 GPU running in Americas",
        "spot": "L4 GPU attached to Spot Preemptible VMs",
        "committed": "L4 GPU running in Americas",
    }
    rows = [
        {
            "billing_account_id": "01A2B3",
            "service_description": "Compute Engine",
            "sku_id": "CF4E-A0C7-E3BF",
            "sku_description": desc[kind],
            "usage_start_time": START.isoformat(),
            "usage_end_time": (START + dt.timedelta(days=1)).isoformat(),
            "project_id": "infer-prod",
            "region": region,
            "zone": f"{region}-a",
            "resource_name": f"//compute.googleapis.com/projects/infer-prod/zones/{region}-a/instances/{kind}",
            "cost": qty * (OD if kind == "committed" else PRICE[kind]),
            "cost_at_list": qty * OD,
            "currency": "USD",
            "pricing_quantity": qty,
            "pricing_unit": "hour",
            "cost_type": "regular",
            "credits_total": -qty * (OD - COMMIT) if kind == "committed" else 0.0,
            "cud_credits": -qty * (OD - COMMIT) if kind == "committed" else 0.0,
            "labels_json": json.dumps([{"key": "service", "value": slug}]) if tagged else None,
            "machine_type": instance_type,
        }
        for qty, kind, tagged in ROWS
    ]
    return [CanonicalBatcher("test BigQuery export").batch(standard_rows_to_focus(rows, PERIOD))]


SHAPES = {
    "aws": (cur_batches, "g5.12xlarge", "us-east-1"),
    "azure": (azure_batches, "Standard_NC24ads_A100_v4", "eastus"),
    "gcp": (google_batches, "g2-standard-8", "us-central1"),
}


@pytest.mark.parametrize("provider", sorted(SHAPES))
def test_attribution_and_current_mix_find_the_instances(provider):
    shape, instance_type, region = SHAPES[provider]
    acct = make_account(provider=provider, account_id=f"it-{provider}", name=provider)
    deps = {}
    for name, replicas in (("a", 3.0), ("b", 1.0)):
        slug = f"{provider}-{name}"
        svc = make_service(slug=slug, name=f"{provider} {name}", tag_value=slug)
        deps[name] = make_deployment(
            svc,
            acct,
            name=f"it-{provider}-{name}",
            region=region,
            instance_type=instance_type,
            gpu_model="X",
        )
        make_hourly_samples(deps[name], START, replicas=replicas)

    load_batches(shape(f"{provider}-a", instance_type, region), acct)

    rollups = CostRollup.objects.filter(account=acct)
    assert set(rollups.values_list("instance_type", flat=True)) == {instance_type}
    assert instance_type not in set(rollups.values_list("sku", flat=True))  # SKU is not the type
    shared = shared_cost_by_service(DAY, DAY, acct.pk)
    a, b = deps["a"].service_id, deps["b"].service_id
    assert shared == {a: Decimal("75.000000"), b: Decimal("25.000000")}

    offer = InstanceOffer(
        provider=provider,
        instance_type=instance_type,
        region=region,
        gpu_model="X",
        gpu_count=1,
        gpu_memory_gib=24,
        ondemand_usd_per_hour=OD,
        spot_usd_per_hour=SPOT,
        commit_1y_usd_per_hour=COMMIT,
        commit_3y_usd_per_hour=None,
        spot_interruption_bucket=1,
    )
    mix = current_mix(deps["a"].service, deps["a"], offer, START, START + dt.timedelta(days=1))
    assert (mix.committed_replicas, mix.spot_share) == (2, 0.25)
