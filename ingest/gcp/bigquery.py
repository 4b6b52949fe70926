"""Google Cloud billing data from the BigQuery billing export (standard/detailed or FOCUS view) -> FOCUS.

``table`` is ``project.dataset.table``. Its schema decides the path:

* a FOCUS view (has ``BilledCost``): ``SELECT * ... WHERE BillingPeriodStart = @period``,
  rows validated as FOCUS;
* the standard or detailed usage cost export (``gcp_billing_export[_resource]_v1_*``):
  one invoice month (``invoice.month = 'YYYYMM'``) with credits summed per row and labels
  as JSON, mapped as below.

====================  =================================================================
FOCUS                 billing export
====================  =================================================================
BilledCost            cost + SUM(credits.amount)  (credits are negative)
EffectiveCost         the same (commitment fees are their own "Commitment v1" rows)
ListCost              cost_at_list
ChargeCategory        cost_type: regular -> Usage (Purchase for "Commitment" SKUs),
                      tax -> Tax, adjustment / rounding_error -> Adjustment
PricingCategory       Spot/Preemptible SKUs -> Dynamic; commitment SKUs or rows with
                      committed-use-discount credits -> Committed; else Standard
Tags                  labels {key: value}
x_MachineType         system label compute.googleapis.com/machine_spec (VM rows)
ResourceId            resource.global_name (detailed export) else the project id
====================  =================================================================
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..canonical import ApiConnector, CanonicalBatcher, ConnectionCheck, next_month, tags_json
from ..errors import ConnectorError
from ..focus.schema import detect_version
from .client import GcpClient

CUD_TYPES = ("COMMITTED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE")
#: System label naming a Compute Engine VM's machine type (e.g. ``g2-standard-8``).
MACHINE_SPEC = "compute.googleapis.com/machine_spec"


def standard_sql(table: str, detailed: bool) -> str:
    resource = "resource.global_name" if detailed else "CAST(NULL AS STRING)"
    return (
        "SELECT billing_account_id, service.description AS service_description, sku.id AS sku_id, "
        "sku.description AS sku_description, usage_start_time, usage_end_time, project.id AS project_id, "
        "location.region AS region, location.zone AS zone, "
        f"{resource} AS resource_name, cost, cost_at_list, currency, "
        "usage.amount_in_pricing_units AS pricing_quantity, usage.pricing_unit AS pricing_unit, cost_type, "
        "invoice.month AS invoice_month, "
        "(SELECT IFNULL(SUM(c.amount), 0) FROM UNNEST(credits) c) AS credits_total, "
        f"(SELECT IFNULL(SUM(c.amount), 0) FROM UNNEST(credits) c WHERE c.type IN {CUD_TYPES!r}) AS cud_credits, "
        "TO_JSON_STRING(labels) AS labels_json, "
        f"(SELECT ANY_VALUE(l.value) FROM UNNEST(system_labels) l WHERE l.key = '{MACHINE_SPEC}') "
        "AS machine_type "
        f"FROM `{table}` WHERE invoice.month = @invoice_month"
    )


def focus_sql(table: str) -> str:
    return f"SELECT * FROM `{table}` WHERE BillingPeriodStart = @period_start"


def _labels(text: Any) -> str | None:
    if not text:
        return None
    items = json.loads(text) if isinstance(text, str) else text
    if isinstance(items, dict):
        return tags_json(items)
    return tags_json(
        {str(i.get("key")): i.get("value") for i in items if isinstance(i, dict) and i.get("key")}
    )


def standard_rows_to_focus(
    rows: list[dict[str, Any]], period_start: dt.date
) -> dict[str, list[Any]]:
    names = (
        "ProviderName",
        "PublisherName",
        "InvoiceIssuerName",
        "BillingAccountId",
        "SubAccountId",
        "BillingCurrency",
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ChargeCategory",
        "BilledCost",
        "EffectiveCost",
        "ListCost",
        "PricingCategory",
        "PricingQuantity",
        "PricingUnit",
        "ConsumedQuantity",
        "ResourceId",
        "RegionId",
        "AvailabilityZone",
        "ServiceName",
        "SkuId",
        "ChargeDescription",
        "Tags",
        "x_MachineType",
    )
    cols: dict[str, list[Any]] = {n: [] for n in names}
    bp_end = next_month(period_start)
    for r in rows:
        desc = r.get("sku_description") or ""
        cost_type = (r.get("cost_type") or "regular").lower()
        commitment_sku = desc.startswith("Commitment")
        charge = {"tax": "Tax", "adjustment": "Adjustment", "rounding_error": "Adjustment"}.get(
            cost_type, "Purchase" if commitment_sku else "Usage"
        )
        net = float(r.get("cost") or 0.0) + float(r.get("credits_total") or 0.0)
        if charge == "Tax":
            pricing = None
        elif "Spot" in desc or "Preemptible" in desc:
            pricing = "Dynamic"
        elif commitment_sku or float(r.get("cud_credits") or 0.0) != 0.0:
            pricing = "Committed"
        else:
            pricing = "Standard"
        qty = r.get("pricing_quantity")
        cols["ProviderName"].append("Google Cloud")
        cols["PublisherName"].append("Google Cloud")
        cols["InvoiceIssuerName"].append("Google")
        cols["BillingAccountId"].append(r.get("billing_account_id"))
        cols["SubAccountId"].append(r.get("project_id"))
        cols["BillingCurrency"].append(r.get("currency") or "USD")
        cols["BillingPeriodStart"].append(period_start.isoformat())
        cols["BillingPeriodEnd"].append(bp_end.isoformat())
        cols["ChargePeriodStart"].append(r.get("usage_start_time"))
        cols["ChargePeriodEnd"].append(r.get("usage_end_time"))
        cols["ChargeCategory"].append(charge)
        cols["BilledCost"].append(net)
        cols["EffectiveCost"].append(net)
        cols["ListCost"].append(r.get("cost_at_list"))
        cols["PricingCategory"].append(pricing)
        cols["PricingQuantity"].append(None if qty is None else float(qty))
        cols["PricingUnit"].append(r.get("pricing_unit"))
        cols["ConsumedQuantity"].append(None if qty is None or charge != "Usage" else float(qty))
        cols["ResourceId"].append(r.get("resource_name") or r.get("project_id"))
        cols["RegionId"].append(r.get("region"))
        cols["AvailabilityZone"].append(r.get("zone"))
        cols["ServiceName"].append(r.get("service_description"))
        cols["SkuId"].append(r.get("sku_id"))
        cols["ChargeDescription"].append(desc or None)
        cols["Tags"].append(_labels(r.get("labels_json")))
        cols["x_MachineType"].append(r.get("machine_type") or None)
    return cols


def focus_rows_to_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """FOCUS view rows (BigQuery types) -> columns; JSON/record values become JSON text."""
    names = list(rows[0]) if rows else []
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for r in rows:
        for n in names:
            v = r.get(n)
            if isinstance(v, (dict, list)):
                v = (
                    json.dumps(v, sort_keys=True)
                    if not (n == "Tags" and isinstance(v, list))
                    else _labels(v)
                )
            elif hasattr(v, "is_finite") or (
                n.endswith(("Cost", "Price", "Quantity"))
                and v is not None
                and not isinstance(v, float)
            ):
                v = float(v)  # type: ignore[arg-type]  # NUMERIC/BIGNUMERIC arrive as Decimal
            cols[n].append(v)
    return cols


class BigQueryBillingConnector(ApiConnector):
    def __init__(self, table: str, client: GcpClient, *, page_size: int = 50_000) -> None:
        self.table = table.removeprefix("bq://").strip("`")
        if self.table.count(".") != 2:
            raise ConnectorError(
                f"{table!r}: expected the billing export table as project.dataset.table"
            )
        self.client = client
        self.page_size = page_size

    def source_for(self, period_start: dt.date) -> str:
        return f"bq://{self.table}/{period_start:%Y-%m}"

    def _batches(
        self, period_start: dt.date, source: str, notes: list[str]
    ) -> Iterator[pa.RecordBatch]:
        from google.cloud import bigquery

        schema = self.client.table_schema(self.table)
        batcher: CanonicalBatcher | None = None
        if "BilledCost" in schema:
            start = dt.datetime(period_start.year, period_start.month, 1, tzinfo=dt.UTC)
            params = [bigquery.ScalarQueryParameter("period_start", "TIMESTAMP", start)]
            for rows in self.client.query_pages(focus_sql(self.table), params, self.page_size):
                if rows:
                    batcher = batcher or CanonicalBatcher(
                        source, detect_version(list(rows[0]), source)
                    )
                    yield batcher.batch(focus_rows_to_columns(rows))
            notes.extend(batcher.warnings() if batcher else [])
            return
        params = [bigquery.ScalarQueryParameter("invoice_month", "STRING", f"{period_start:%Y%m}")]
        batcher = CanonicalBatcher(source)
        for rows in self.client.query_pages(
            standard_sql(self.table, "resource" in schema), params, self.page_size
        ):
            if rows:
                yield batcher.batch(standard_rows_to_focus(rows, period_start))
        notes.extend(batcher.warnings())

    def test_connection(self) -> list[ConnectionCheck]:
        try:
            schema = self.client.table_schema(self.table)
        except Exception as exc:  # noqa: BLE001 - shown to the analyst
            return [ConnectionCheck("BigQuery table", False, str(exc))]
        kind = (
            "FOCUS view"
            if "BilledCost" in schema
            else (
                "detailed usage cost export"
                if "resource" in schema
                else "standard usage cost export"
            )
        )
        return [
            ConnectionCheck("BigQuery table", True, f"{self.table}: {kind}, {len(schema)} columns")
        ]
