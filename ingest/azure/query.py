"""Azure Cost Management Query API (ActualCost + AmortizedCost, daily) -> FOCUS.

Two queries per billing period over the whole period (to today): ``ActualCost`` gives
BilledCost (what the invoice shows: reservation purchases when bought, no amortisation),
``AmortizedCost`` gives EffectiveCost (reservation/savings-plan purchases spread over the
usage they cover). Rows are joined on (day, grouping values); a key present in only one
result counts 0 in the other. Groupings default to resource group, resource, meter
category, meter, pricing model, charge type and the ``service`` tag; pass ``groupings`` to
use fewer on scopes that limit them. Pages are followed through ``nextLink``.

Result columns are recognised by name: cost ``Cost`` / ``PreTaxCost`` / ``CostUSD``,
``UsageQuantity``, ``UsageDate`` (yyyymmdd number), ``Currency``, and the grouping columns
(a TagKey grouping arrives as ``TagKey`` + ``TagValue`` columns).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..canonical import ApiConnector, CanonicalBatcher, ConnectionCheck, next_month, tags_json
from ..errors import ResponseShapeError
from .client import AzureClient

DEFAULT_GROUPINGS: list[dict[str, str]] = [
    {"type": "Dimension", "name": "ResourceGroupName"},
    {"type": "Dimension", "name": "ResourceId"},
    {"type": "Dimension", "name": "MeterCategory"},
    {"type": "Dimension", "name": "Meter"},
    {"type": "Dimension", "name": "PricingModel"},
    {"type": "Dimension", "name": "ChargeType"},
    {"type": "TagKey", "name": "service"},
]
COST_COLUMNS = ("Cost", "PreTaxCost", "CostUSD")
PRICING = {
    "OnDemand": "Standard",
    "Spot": "Dynamic",
    "Reservation": "Committed",
    "SavingsPlan": "Committed",
}
CHARGE = {
    "Usage": "Usage",
    "Purchase": "Purchase",
    "Refund": "Credit",
    "UnusedReservation": "Usage",
    "UnusedSavingsPlan": "Usage",
    "Tax": "Tax",
    "Adjustment": "Adjustment",
}


def query_definition(
    cost_type: str, period_start: dt.date, today: dt.date, groupings: list[dict[str, str]]
) -> dict[str, Any]:
    end = min(next_month(period_start) - dt.timedelta(days=1), today)
    end = max(end, period_start)
    return {
        "type": cost_type,
        "timeframe": "Custom",
        "timePeriod": {
            "from": f"{period_start.isoformat()}T00:00:00Z",
            "to": f"{end.isoformat()}T23:59:59Z",
        },
        "dataset": {
            "granularity": "Daily",
            "aggregation": {
                "totalCost": {"name": "Cost", "function": "Sum"},
                "totalQuantity": {"name": "UsageQuantity", "function": "Sum"},
            },
            "grouping": groupings,
        },
    }


def page_records(page: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one Query result page as dicts keyed by column name."""
    props = page.get("properties") or page
    names = [c["name"] for c in props.get("columns") or []]
    return [dict(zip(names, row, strict=False)) for row in props.get("rows") or []]


def _key(rec: dict[str, Any]) -> tuple:
    return tuple(
        sorted((k, str(v)) for k, v in rec.items() if k not in (*COST_COLUMNS, "UsageQuantity"))
    )


def _number(value: Any, what: str) -> float:
    """``value`` as a float, else a :class:`ResponseShapeError` naming the column."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ResponseShapeError(
            f"Azure Cost Management response: {what} {value!r} is not a number"
        ) from None


def _cost(rec: dict[str, Any]) -> float:
    for c in COST_COLUMNS:
        if rec.get(c) is not None:
            return _number(rec[c], c)
    return 0.0


def join_actual_amortized(
    actual: list[dict[str, Any]], amortized: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One record per key with ``_billed`` and ``_effective`` costs."""
    out: dict[tuple, dict[str, Any]] = {}
    for rec in actual:
        r = out.setdefault(_key(rec), {**rec, "_billed": 0.0, "_effective": 0.0})
        r["_billed"] += _cost(rec)
    for rec in amortized:
        r = out.setdefault(_key(rec), {**rec, "_billed": 0.0, "_effective": 0.0})
        r["_effective"] += _cost(rec)
        if r.get("UsageQuantity") is None:
            r["UsageQuantity"] = rec.get("UsageQuantity")
    return list(out.values())


def _day(value: Any) -> dt.date:
    """UsageDate as Azure sends it: 20260903 (number) or '2026-09-03T00:00:00'."""
    text = str(value)
    try:
        if len(text) >= 10 and text[4] == "-":
            return dt.date.fromisoformat(text[:10])
        n = int(float(text))
        return dt.date(n // 10000, n // 100 % 100, n % 100)
    except (ValueError, OverflowError) as exc:
        raise ResponseShapeError(
            f"UsageDate {text!r} is not a date (expected YYYYMMDD or YYYY-MM-DD): {exc}"
        ) from None


def records_to_focus(
    records: list[dict[str, Any]], period_start: dt.date, scope: str
) -> dict[str, list[Any]]:
    names = (
        "ProviderName",
        "PublisherName",
        "InvoiceIssuerName",
        "BillingAccountId",
        "BillingCurrency",
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ChargeCategory",
        "BilledCost",
        "EffectiveCost",
        "PricingCategory",
        "ConsumedQuantity",
        "ResourceId",
        "ServiceName",
        "SkuId",
        "Tags",
        "x_ResourceGroup",
        "x_PricingModel",
        "x_ChargeType",
    )
    cols: dict[str, list[Any]] = {n: [] for n in names}
    bp_end = next_month(period_start)
    for r in records:
        day = _day(r["UsageDate"])
        billed, effective = r["_billed"], r["_effective"]
        charge = CHARGE.get(str(r.get("ChargeType") or "Usage"), "Usage")
        if charge == "Usage" and billed < 0 and effective <= 0:
            charge = "Credit"
        tag_value = r.get("TagValue")
        tag_key = r.get("TagKey")
        tags = {str(tag_key): str(tag_value)} if tag_key and tag_value not in (None, "") else None
        cols["ProviderName"].append("Microsoft")
        cols["PublisherName"].append("Microsoft")
        cols["InvoiceIssuerName"].append("Microsoft")
        cols["BillingAccountId"].append(scope)
        cols["BillingCurrency"].append(r.get("Currency") or r.get("BillingCurrency") or "USD")
        cols["BillingPeriodStart"].append(period_start.isoformat())
        cols["BillingPeriodEnd"].append(bp_end.isoformat())
        cols["ChargePeriodStart"].append(day.isoformat())
        cols["ChargePeriodEnd"].append((day + dt.timedelta(days=1)).isoformat())
        cols["ChargeCategory"].append(charge)
        cols["BilledCost"].append(billed)
        cols["EffectiveCost"].append(effective)
        cols["PricingCategory"].append(
            None
            if charge in ("Tax", "Credit")
            else PRICING.get(str(r.get("PricingModel") or "OnDemand"), "Other")
        )
        q = r.get("UsageQuantity")
        cols["ConsumedQuantity"].append(
            None if q is None or charge != "Usage" else _number(q, "UsageQuantity")
        )
        cols["ResourceId"].append(r.get("ResourceId") or None)
        cols["ServiceName"].append(r.get("MeterCategory") or r.get("ServiceName") or None)
        cols["SkuId"].append(r.get("Meter") or r.get("MeterSubCategory") or None)
        cols["Tags"].append(tags_json(tags))
        cols["x_ResourceGroup"].append(r.get("ResourceGroupName") or r.get("ResourceGroup") or None)
        cols["x_PricingModel"].append(r.get("PricingModel") or None)
        cols["x_ChargeType"].append(r.get("ChargeType") or None)
    return cols


class AzureQueryConnector(ApiConnector):
    """Reads one scope (``/subscriptions/<id>``, a billing account, ...) period by period."""

    def __init__(
        self,
        scope: str,
        client: AzureClient,
        *,
        groupings: list[dict[str, str]] | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.scope = scope.rstrip("/")
        self.client = client
        self.groupings = groupings or DEFAULT_GROUPINGS
        self.today = today

    def _all(self, cost_type: str, period_start: dt.date) -> list[dict[str, Any]]:
        definition = query_definition(
            cost_type, period_start, self.today or dt.datetime.now(dt.UTC).date(), self.groupings
        )
        return [
            rec
            for page in self.client.query_pages(self.scope, definition)
            for rec in page_records(page)
        ]

    def source_for(self, period_start: dt.date) -> str:
        return f"azure-query:{self.scope}/{period_start:%Y-%m}"

    def _batches(
        self, period_start: dt.date, source: str, notes: list[str]
    ) -> Iterator[pa.RecordBatch]:
        records = join_actual_amortized(
            self._all("ActualCost", period_start), self._all("AmortizedCost", period_start)
        )
        if records:
            batcher = CanonicalBatcher(source)
            yield batcher.batch(records_to_focus(records, period_start, self.scope))
            notes.extend(batcher.warnings())

    def test_connection(self) -> list[ConnectionCheck]:
        today = self.today or dt.datetime.now(dt.UTC).date()
        try:
            definition = query_definition(
                "ActualCost", today.replace(day=1), today, self.groupings[:1]
            )
            page = next(self.client.query_pages(self.scope, definition))
            return [
                ConnectionCheck(
                    "Cost Management query",
                    True,
                    f"{len(page_records(page))} cost row(s) on the first page this month for {self.scope}",
                )
            ]
        except Exception as exc:  # noqa: BLE001 - shown to the analyst
            return [ConnectionCheck("Cost Management query", False, str(exc))]
