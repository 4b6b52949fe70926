"""AWS Cost Explorer ``get_cost_and_usage`` -> FOCUS, for accounts without a data export.

One request per billing period: ``DAILY`` granularity over the whole period (to today),
grouped by ``SERVICE`` and ``USAGE_TYPE`` (Cost Explorer allows two group-bys), metrics
``UnblendedCost`` (-> BilledCost), ``AmortizedCost`` (-> EffectiveCost) and
``UsageQuantity`` (-> ConsumedQuantity). Pages are followed through ``NextPageToken``.

Cost Explorer has no list price, resource id or tags at this grain: ListCost stays null
(reported, never invented), and records are unallocated unless a data export is used. The
usage type gives the region (its prefix, e.g. ``USE1-``) and, for instance usage
(``BoxUsage:``, ``SpotUsage:``), the instance type and whether it ran on spot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..canonical import ApiConnector, CanonicalBatcher, ConnectionCheck, next_month
from ..errors import ResponseShapeError
from .client import AwsClient

METRICS = ("UnblendedCost", "AmortizedCost", "UsageQuantity")
GROUP_BY = [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]

#: Usage-type region prefixes (Cost Explorer / CUR) -> region code.
REGION_PREFIX = {
    "USE1": "us-east-1",
    "USE2": "us-east-2",
    "USW1": "us-west-1",
    "USW2": "us-west-2",
    "CAN1": "ca-central-1",
    "EUC1": "eu-central-1",
    "EUC2": "eu-central-2",
    "EUW1": "eu-west-1",
    "EUW2": "eu-west-2",
    "EUW3": "eu-west-3",
    "EUN1": "eu-north-1",
    "EUS1": "eu-south-1",
    "APN1": "ap-northeast-1",
    "APN2": "ap-northeast-2",
    "APN3": "ap-northeast-3",
    "APS1": "ap-southeast-1",
    "APS2": "ap-southeast-2",
    "APS3": "ap-south-1",
    "APS4": "ap-southeast-3",
    "APE1": "ap-east-1",
    "SAE1": "sa-east-1",
    "MES1": "me-south-1",
    "AFS1": "af-south-1",
    "ILC1": "il-central-1",
}


def parse_usage_type(usage_type: str) -> tuple[str | None, str | None, bool]:
    """(region, instance type, is_spot) from a usage type such as ``USE1-SpotUsage:g5.xlarge``.

    Usage types without a region prefix are us-east-1's (AWS's convention).
    """
    prefix, sep, rest = usage_type.partition("-")
    if sep and prefix in REGION_PREFIX:
        region: str | None = REGION_PREFIX[prefix]
    else:
        region, rest = ("us-east-1" if ":" in usage_type else None), usage_type
    kind, _, instance = rest.partition(":")
    is_instance = kind in (
        "BoxUsage",
        "SpotUsage",
        "DedicatedUsage",
        "HostBoxUsage",
    ) or kind.endswith("BoxUsage")
    return region, (instance or None) if is_instance else None, kind == "SpotUsage"


def period_request(period_start: dt.date, today: dt.date) -> dict[str, Any]:
    """The request for one billing period: from its first day to the end of the period or today."""
    end = min(next_month(period_start), today + dt.timedelta(days=1))
    if end <= period_start:
        end = period_start + dt.timedelta(days=1)
    return {
        "TimePeriod": {"Start": period_start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": list(METRICS),
        "GroupBy": GROUP_BY,
    }


def _number(value: Any, where: str) -> float:
    """``value`` as a float, else a :class:`ResponseShapeError` naming where it is."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ResponseShapeError(
            f"Cost Explorer response: {where}: amount {value!r} is not a number"
        ) from None


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    """`value` if it is of the documented JSON type, else a clear error naming where it is."""
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise ResponseShapeError(
        f"Cost Explorer response: {where} should be {names} but is {type(value).__name__} {shown}; "
        "the response does not follow the get_cost_and_usage shape and nothing was loaded"
    )


def _checked_day(day: Any, i: int) -> tuple[str, str, list[dict[str, Any]]]:
    where = f"ResultsByTime[{i}]"
    _expect(day, dict, where)
    period = _expect(day.get("TimePeriod"), dict, f"{where}.TimePeriod")
    start = _expect(period.get("Start"), str, f"{where}.TimePeriod.Start")
    end = _expect(period.get("End"), str, f"{where}.TimePeriod.End")
    groups = _expect(day.get("Groups", []), list, f"{where}.Groups")
    for j, group in enumerate(groups):
        g_where = f"{where}.Groups[{j}]"
        _expect(group, dict, g_where)
        _expect(group.get("Keys", []), list, f"{g_where}.Keys")
        metrics = _expect(group.get("Metrics", {}), dict, f"{g_where}.Metrics")
        for name, metric in metrics.items():
            _expect(metric, dict, f"{g_where}.Metrics.{name}")
            if metric.get("Amount") is not None:
                _expect(metric["Amount"], (str, int, float), f"{g_where}.Metrics.{name}.Amount")
    return start, end, groups


def results_to_focus(
    results: list[dict[str, Any]], period_start: dt.date, account_id: str
) -> dict[str, list[Any]]:
    """FOCUS-named columns for ``ResultsByTime`` entries (grouped results, one row per group and day)."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "ProviderName",
            "PublisherName",
            "BillingAccountId",
            "SubAccountId",
            "BillingCurrency",
            "BillingPeriodStart",
            "BillingPeriodEnd",
            "ChargePeriodStart",
            "ChargePeriodEnd",
            "ChargeCategory",
            "ChargeFrequency",
            "BilledCost",
            "EffectiveCost",
            "ContractedCost",
            "PricingCategory",
            "ConsumedQuantity",
            "PricingQuantity",
            "ServiceName",
            "RegionId",
            "SkuId",
            "x_UsageType",
            "x_InstanceType",
            "x_Estimated",
        )
    }
    bp_end = next_month(period_start)
    for i, day in enumerate(_expect(results, list, "ResultsByTime")):
        start, end, groups = _checked_day(day, i)
        for group in groups:
            keys = group.get("Keys", [])
            service = keys[0] if keys else None
            usage_type = keys[1] if len(keys) > 1 else ""
            m = group.get("Metrics", {})
            where = f"ResultsByTime[{i}] {service!r}"
            billed = _number(m.get("UnblendedCost", {}).get("Amount", 0) or 0, where)
            effective = _number(m.get("AmortizedCost", {}).get("Amount", billed) or 0, where)
            quantity = m.get("UsageQuantity", {}).get("Amount")
            currency = m.get("UnblendedCost", {}).get("Unit") or "USD"
            region, instance, spot = parse_usage_type(usage_type)
            tax = service == "Tax" or usage_type.startswith("Tax")
            cols["ProviderName"].append("AWS")
            cols["PublisherName"].append("Amazon Web Services, Inc.")
            cols["BillingAccountId"].append(account_id)
            cols["SubAccountId"].append(account_id)
            cols["BillingCurrency"].append(currency)
            cols["BillingPeriodStart"].append(period_start.isoformat())
            cols["BillingPeriodEnd"].append(bp_end.isoformat())
            cols["ChargePeriodStart"].append(start)
            cols["ChargePeriodEnd"].append(end)
            cols["ChargeCategory"].append("Tax" if tax else ("Credit" if billed < 0 else "Usage"))
            cols["ChargeFrequency"].append("One-Time" if tax else "Usage-Based")
            cols["BilledCost"].append(billed)
            cols["EffectiveCost"].append(effective)
            cols["ContractedCost"].append(billed)
            cols["PricingCategory"].append(None if tax else ("Dynamic" if spot else "Standard"))
            qty = None if quantity is None else _number(quantity, f"{where} UsageQuantity")
            cols["ConsumedQuantity"].append(qty)
            cols["PricingQuantity"].append(qty)
            cols["ServiceName"].append(service)
            cols["RegionId"].append(region)
            cols["SkuId"].append(instance or usage_type or None)
            cols["x_UsageType"].append(usage_type or None)
            cols["x_InstanceType"].append(instance)
            cols["x_Estimated"].append(str(bool(day.get("Estimated", False))).lower())
    return cols


class CostExplorerConnector(ApiConnector):
    """Reads one AWS account's costs through Cost Explorer, one billing period at a time."""

    def __init__(self, account_id: str, client: AwsClient, *, today: dt.date | None = None) -> None:
        self.account_id = account_id
        self.client = client
        self.today = today

    def pages(self, period_start: dt.date) -> Iterator[dict[str, Any]]:
        request = period_request(period_start, self.today or dt.datetime.now(dt.UTC).date())
        while True:
            page = self.client.cost_and_usage_page(**request)
            yield page
            token = page.get("NextPageToken")
            if not token:
                return
            request = {**request, "NextPageToken": token}

    def source_for(self, period_start: dt.date) -> str:
        return f"aws-ce://{self.account_id}/{period_start:%Y-%m}"

    def _batches(
        self, period_start: dt.date, source: str, notes: list[str]
    ) -> Iterator[pa.RecordBatch]:
        batcher = CanonicalBatcher(source)
        for page in self.pages(period_start):
            cols = results_to_focus(page.get("ResultsByTime", []), period_start, self.account_id)
            if cols["BilledCost"]:
                yield batcher.batch(cols)
        notes.extend(batcher.warnings())
        if batcher.rows:
            notes.append(
                f"ListCost: Cost Explorer publishes no list prices, so {batcher.rows} row(s) have none "
                "(use a CUR 2.0 or FOCUS data export for list cost, resource ids and tags)"
            )

    def test_connection(self) -> list[ConnectionCheck]:
        checks = []
        try:
            ident = self.client.caller_identity()
            checks.append(
                ConnectionCheck("identity", True, f"signed in as {ident.get('Arn', '?')}")
            )
        except Exception as exc:  # noqa: BLE001 - reported to the user
            return [ConnectionCheck("identity", False, str(exc))]
        today = self.today or dt.datetime.now(dt.UTC).date()
        try:
            page = next(self.pages(today.replace(day=1)))
            groups = sum(len(d.get("Groups", [])) for d in page.get("ResultsByTime", []))
            checks.append(
                ConnectionCheck(
                    "Cost Explorer",
                    True,
                    f"{len(page.get('ResultsByTime', []))} day(s), {groups} cost group(s) on the first page this month",
                )
            )
        except Exception as exc:  # noqa: BLE001
            checks.append(ConnectionCheck("Cost Explorer", False, str(exc)))
        return checks
