"""Test data for the AWS connectors: a moto server, CUR 2.0 rows with hand-computed totals, manifests."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os

import pyarrow as pa
import pyarrow.parquet as pq

UTC = dt.UTC
BUCKET = "headroom-billing"


@contextlib.contextmanager
def moto_endpoint():
    """A real moto HTTP server on a free local port; boto3 finds it through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_PROFILE",
        )
    }
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield url
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _ts(day: int, hour: int = 0, month: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


# line item type, usage type, unblended, public on-demand, RI effective, SP effective,
# RI unused (upfront, recurring), SP commitment (total, used), pricing term, tags, day
CUR_ROWS = [
    (
        "Usage",
        "USE1-BoxUsage:p4d.24xlarge",
        32.77,
        32.77,
        None,
        None,
        None,
        None,
        "OnDemand",
        {"user_service": "chat-llm"},
        1,
    ),
    (
        "Usage",
        "USE1-SpotUsage:g5.xlarge",
        0.4,
        1.006,
        None,
        None,
        None,
        None,
        "",
        {"user_service": "image-gen"},
        1,
    ),
    (
        "DiscountedUsage",
        "USE1-BoxUsage:p4d.24xlarge",
        0.0,
        32.77,
        20.0,
        None,
        None,
        None,
        "Reserved",
        {"user_service": "chat-llm"},
        2,
    ),
    (
        "SavingsPlanCoveredUsage",
        "USE1-BoxUsage:p5.48xlarge",
        98.32,
        98.32,
        None,
        62.9,
        None,
        None,
        "OnDemand",
        {"user_service": "embeddings"},
        2,
    ),
    (
        "SavingsPlanNegation",
        "USE1-BoxUsage:p5.48xlarge",
        -35.42,
        None,
        None,
        None,
        None,
        None,
        "OnDemand",
        None,
        2,
    ),
    (
        "SavingsPlanRecurringFee",
        "ComputeSP:1yrNoUpfront",
        100.0,
        None,
        None,
        None,
        None,
        (100.0, 62.9),
        "",
        None,
        3,
    ),
    (
        "RIFee",
        "USE1-HeavyUsage:p4d.24xlarge",
        15.0,
        None,
        None,
        None,
        (2.0, 3.0),
        None,
        "",
        None,
        3,
    ),
    ("Tax", "", 7.5, None, None, None, None, None, "", None, 3),
    ("Credit", "", -10.0, None, None, None, None, None, "", None, 3),
]
CUR_BILLED = 32.77 + 0.4 + 0.0 + 98.32 - 35.42 + 100.0 + 15.0 + 7.5 - 10.0  # 208.57
CUR_EFFECTIVE = (
    32.77 + 0.4 + 20.0 + 62.9 + 0.0 + (100.0 - 62.9) + (2.0 + 3.0) + 7.5 - 10.0
)  # 155.67
CUR_LIST = 32.77 + 1.006 + 32.77 + 98.32
RI_ARN = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-0001"
SP_ARN = "arn:aws:savingsplans::111122223333:savingsplan/sp-0001"


def cur_table(month: int = 9, scale: float = 1.0) -> pa.Table:
    """CUR 2.0 rows of CUR_ROWS for 2026-``month`` (costs multiplied by ``scale``)."""
    rows = []
    for i, (lit, ut, cost, od, ri_eff, sp_eff, ri_unused, sp_commit, term, tags, day) in enumerate(
        CUR_ROWS
    ):
        start = _ts(day, i, month)
        is_ri = lit in ("DiscountedUsage", "RIFee")
        is_sp = lit.startswith("SavingsPlan")
        rows.append(
            {
                "bill_bill_type": "Anniversary",
                "bill_billing_period_start_date": _ts(1, 0, month),
                "bill_billing_period_end_date": _ts(1, 0, month + 1),
                "bill_payer_account_id": "111122223333",
                "bill_invoicing_entity": "Amazon Web Services, Inc.",
                "line_item_usage_account_id": "444455556666",
                "line_item_line_item_type": lit,
                "line_item_usage_start_date": start,
                "line_item_usage_end_date": start + dt.timedelta(hours=1),
                "line_item_product_code": "AmazonEC2",
                "line_item_usage_type": ut,
                "line_item_operation": "RunInstances",
                "line_item_resource_id": f"i-{i:017x}" if lit.endswith("Usage") else None,
                "line_item_usage_amount": 1.0,
                "line_item_unblended_cost": round(cost * scale, 6),
                "line_item_unblended_rate": round(cost * scale, 6),
                "line_item_currency_code": "USD",
                "line_item_line_item_description": f"{lit} {ut}",
                "line_item_availability_zone": "us-east-1a",
                "pricing_public_on_demand_cost": od,
                "pricing_public_on_demand_rate": od,
                "pricing_term": term,
                "pricing_purchase_option": "",
                "pricing_unit": "Hrs",
                "product_product_name": "Amazon Elastic Compute Cloud",
                "product_region_code": "us-east-1",
                "product_instance_type": ut.partition(":")[2] if "Usage:" in ut else None,
                "product_sku": f"SKU{i:03d}",
                "reservation_reservation_a_r_n": RI_ARN if is_ri else None,
                "reservation_effective_cost": ri_eff,
                "reservation_unused_amortized_upfront_fee_for_billing_period": ri_unused[0]
                if ri_unused
                else None,
                "reservation_unused_recurring_fee": ri_unused[1] if ri_unused else None,
                "savings_plan_savings_plan_a_r_n": SP_ARN if is_sp else None,
                "savings_plan_savings_plan_effective_cost": sp_eff,
                "savings_plan_total_commitment_to_date": sp_commit[0] if sp_commit else None,
                "savings_plan_used_commitment": sp_commit[1] if sp_commit else None,
                "resource_tags": list(tags.items()) if tags else None,
            }
        )
    schema_overrides = {"resource_tags": pa.map_(pa.string(), pa.string())}
    table = pa.Table.from_pylist(rows)
    idx = table.schema.get_field_index("resource_tags")
    return table.set_column(
        idx,
        "resource_tags",
        pa.array([r["resource_tags"] for r in rows], type=schema_overrides["resource_tags"]),
    )


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def put_data_export(s3, prefix: str, export: str, month: int, data: bytes) -> tuple[str, str]:
    """Write one period of an AWS Data Export (data file + manifest). Returns (data key, manifest key)."""
    period = f"2026-{month:02d}"
    data_key = f"{prefix}/{export}/data/BILLING_PERIOD={period}/{export}-00001.snappy.parquet"
    manifest_key = f"{prefix}/{export}/metadata/BILLING_PERIOD={period}/{export}-Manifest.json"
    s3.put_object(Bucket=BUCKET, Key=data_key, Body=data)
    manifest = {
        "version": "2.0",
        "exportName": export,
        "billingPeriod": {
            "start": f"{period}-01T00:00:00.000Z",
            "end": f"2026-{month + 1:02d}-01T00:00:00.000Z",
        },
        "dataFiles": [f"s3://{BUCKET}/{data_key}"],
        "columns": [],
    }
    s3.put_object(Bucket=BUCKET, Key=manifest_key, Body=json.dumps(manifest).encode())
    return data_key, manifest_key
