"""AWS Cost and Usage Report (CUR 2.0 Data Export, also legacy CUR) rows -> FOCUS columns.

Pure: takes a pyarrow batch of CUR columns, returns FOCUS-named columns for
:class:`ingest.canonical.CanonicalBatcher`. The mapping follows AWS's own FOCUS 1.0 export:

==========================  ===============================================================
FOCUS                       CUR 2.0
==========================  ===============================================================
BilledCost                  line_item_unblended_cost
EffectiveCost               Usage: unblended; DiscountedUsage (RI): reservation_effective_cost;
                            SavingsPlanCoveredUsage: savings_plan_savings_plan_effective_cost;
                            SavingsPlanNegation and upfront fees: 0 (already amortised);
                            RIFee: unused amortised upfront + unused recurring fee;
                            SavingsPlanRecurringFee: total commitment - used commitment
ListCost / ListUnitPrice    pricing_public_on_demand_cost / _rate
ChargeCategory              line_item_line_item_type (Usage, Purchase, Credit, Tax, Adjustment)
PricingCategory             Committed for RI/SP-covered rows, Dynamic for spot
                            (pricing_term / pricing_purchase_option "Spot", or a SpotUsage
                            usage type), Standard for OnDemand, else Other
CommitmentDiscountId/Type   reservation_reservation_a_r_n / savings_plan_savings_plan_a_r_n
Tags                        resource_tags map (CUR 2.0) or resource_tags_* columns (legacy);
                            the ``user_`` prefix of user-defined tags is dropped
==========================  ===============================================================

Costs are in ``line_item_currency_code``; quantities in the usage type's unit (hours for
instances).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from ..canonical import tags_json

CUR_MARKER_COLUMNS = ("line_item_unblended_cost", "line_item_line_item_type")

CHARGE_CATEGORY = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "RIFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "Fee": "Purchase",
    "Credit": "Credit",
    "Refund": "Credit",
    "BundledDiscount": "Credit",
    "EdpDiscount": "Credit",
    "PrivateRateDiscount": "Credit",
    "Discount": "Credit",
    "Tax": "Tax",
}
CHARGE_FREQUENCY = {
    "RIFee": "Recurring",
    "SavingsPlanRecurringFee": "Recurring",
    "SavingsPlanUpfrontFee": "One-Time",
    "Fee": "One-Time",
    "Tax": "One-Time",
    "Credit": "One-Time",
    "Refund": "One-Time",
}


def is_cur(columns: list[str]) -> bool:
    names = {normalise_column(c) for c in columns}
    return all(c in names for c in CUR_MARKER_COLUMNS)


def normalise_column(name: str) -> str:
    """Legacy CUR CSV names (``lineItem/UnblendedCost``, ``resourceTags/user:service``) -> CUR 2.0
    style (``line_item_unblended_cost``, ``resource_tags_user_service``); others unchanged."""
    if "/" not in name:
        return name
    group, _, field = name.partition("/")
    snake = lambda t: re.sub(r"(?<!^)(?=[A-Z])", "_", t).lower()  # noqa: E731
    if group == "resourceTags":
        return "resource_tags_" + re.sub(r"[^0-9A-Za-z]+", "_", field)
    return f"{snake(group)}_{snake(field)}"


def read_cur_csv(stream: Any, *, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
    """Batches of a CUR CSV (plain or gzip) stream; every column read as text, names normalised."""
    head = stream.read(2)
    raw = io.BufferedReader(_Replay(head, stream), buffer_size=1 << 20)
    text = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    header = next(csv.reader([text.readline().decode("utf-8-sig")]))
    names = [normalise_column(c.strip()) for c in header]
    reader = pcsv.open_csv(
        text,
        read_options=pcsv.ReadOptions(column_names=names, block_size=8 << 20),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
        ),
    )
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        if count >= batch_rows:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches()
            pending, count = [], 0
    if pending:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


class _Replay(io.RawIOBase):
    def __init__(self, prefix: bytes, rest: Any) -> None:
        self._prefix, self._rest = prefix, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._prefix[: len(buffer)] if self._prefix else self._rest.read(len(buffer))
        self._prefix = self._prefix[len(data) :] if self._prefix else b""
        buffer[: len(data)] = data
        return len(data)


def _col(df: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(
        [default] * len(df),
        index=df.index,
        dtype=object if not isinstance(default, float) else float,
    )


def _num(df: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_col(df, name, np.nan), errors="coerce")


def _text(df: pd.DataFrame, name: str) -> pd.Series:
    s = _col(df, name)
    return s.where(s.notna() & (s.astype(str) != ""), None)


def _pick(cond: Any, yes: Any, no: Any) -> np.ndarray:
    """Element-wise ``yes if cond else no`` as an object array (``None`` allowed)."""
    return np.where(
        np.asarray(cond, dtype=bool), np.asarray(yes, dtype=object), np.asarray(no, dtype=object)
    )


def _tags(df: pd.DataFrame) -> list[str | None]:
    def key(k: str) -> str:
        return k[5:] if k.startswith("user_") else k

    if "resource_tags" in df.columns:
        out: list[str | None] = []
        seen: dict[tuple, str | None] = {}  # tag sets repeat across rows: build each JSON once
        for v in df["resource_tags"]:
            if v is None or (isinstance(v, float) and np.isnan(v)):
                out.append(None)
                continue
            if isinstance(v, str):  # CSV exports write the map as JSON text
                v = json.loads(v) if v.strip() else {}
            pairs = tuple(v.items() if isinstance(v, dict) else v)  # pyarrow map -> tuples
            if pairs not in seen:
                seen[pairs] = tags_json(
                    {key(str(k)): val for k, val in pairs if val not in (None, "")}
                )
            out.append(seen[pairs])
        return out
    legacy = [c for c in df.columns if c.startswith("resource_tags_")]
    if not legacy:
        return [None] * len(df)
    records = df[legacy].to_dict("records")
    return [
        tags_json(
            {
                key(str(c)[len("resource_tags_") :]): v
                for c, v in r.items()
                if v not in (None, "") and v == v
            }
        )
        for r in records
    ]


def cur_to_focus(batch: pa.RecordBatch | pa.Table) -> dict[str, Any]:
    """FOCUS-named columns (plus ``x_*`` extras) for one batch of CUR 2.0 / legacy CUR rows."""
    df = (
        batch.to_pandas(maps_as_pydicts="strict")
        if "resource_tags" in batch.schema.names
        else batch.to_pandas()
    )
    lit = _col(df, "line_item_line_item_type").fillna("Usage").astype(str)
    unblended = _num(df, "line_item_unblended_cost")
    usage_type = _col(df, "line_item_usage_type").fillna("").astype(str)
    commitment = _commitment_columns(df, lit)
    is_usage = lit.isin(["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"])
    quantity = _num(df, "line_item_usage_amount")
    service = _text(df, "product_product_name")
    service = service.where(service.notna(), _text(df, "product_servicecode"))
    service = service.where(service.notna(), _text(df, "line_item_product_code"))
    region = _text(df, "product_region_code")
    region = region.where(region.notna(), _text(df, "product_region"))
    currency = _text(df, "line_item_currency_code").fillna("USD")
    return {
        "ProviderName": ["AWS"] * len(df),
        "PublisherName": _text(df, "bill_invoicing_entity").fillna("Amazon Web Services, Inc."),
        "InvoiceIssuerName": _text(df, "bill_invoicing_entity").fillna("Amazon Web Services, Inc."),
        "BillingAccountId": _text(df, "bill_payer_account_id"),
        "SubAccountId": _text(df, "line_item_usage_account_id"),
        "InvoiceId": _text(df, "bill_invoice_id"),
        "BillingCurrency": currency,
        "BillingPeriodStart": _col(df, "bill_billing_period_start_date"),
        "BillingPeriodEnd": _col(df, "bill_billing_period_end_date"),
        "ChargePeriodStart": _col(df, "line_item_usage_start_date"),
        "ChargePeriodEnd": _col(df, "line_item_usage_end_date"),
        "ChargeCategory": lit.map(CHARGE_CATEGORY).fillna("Adjustment"),
        "ChargeFrequency": lit.map(CHARGE_FREQUENCY).fillna("Usage-Based"),
        "ChargeDescription": _text(df, "line_item_line_item_description"),
        "BilledCost": unblended,
        "EffectiveCost": _effective_cost(df, lit, unblended),
        "ContractedCost": unblended,
        "ListCost": _num(df, "pricing_public_on_demand_cost"),
        "ListUnitPrice": _num(df, "pricing_public_on_demand_rate"),
        "ContractedUnitPrice": _num(df, "line_item_unblended_rate"),
        "PricingCategory": _pricing_category(df, lit, usage_type),
        "PricingQuantity": quantity,
        "PricingUnit": _text(df, "pricing_unit"),
        "ConsumedQuantity": quantity.where(is_usage, np.nan),
        "ConsumedUnit": _text(df, "pricing_unit").where(is_usage, None),
        **commitment,
        "ResourceId": _text(df, "line_item_resource_id"),
        "RegionId": region,
        "AvailabilityZone": _text(df, "line_item_availability_zone"),
        "ServiceName": service,
        "SkuId": _text(df, "product_sku"),
        "Tags": _tags(df),
        "x_UsageType": usage_type.where(usage_type != "", None),
        "x_Operation": _text(df, "line_item_operation"),
        "x_InstanceType": _text(df, "product_instance_type"),
        "x_LineItemType": lit,
    }


def _effective_cost(df: pd.DataFrame, lit: pd.Series, unblended: pd.Series) -> np.ndarray:
    """EffectiveCost: covered usage at its amortised commitment rate, the negations and
    upfront fees at zero (they are spread over the usage), a commitment's recurring fee at its
    unused share; everything else as billed."""
    ri_effective = _num(df, "reservation_effective_cost").fillna(0.0)
    sp_effective = _num(df, "savings_plan_savings_plan_effective_cost").fillna(0.0)
    ri_unused = _num(df, "reservation_unused_amortized_upfront_fee_for_billing_period").fillna(
        0.0
    ) + _num(df, "reservation_unused_recurring_fee").fillna(0.0)
    sp_unused = _num(df, "savings_plan_total_commitment_to_date").fillna(0.0) - _num(
        df, "savings_plan_used_commitment"
    ).fillna(0.0)
    return np.select(
        [
            lit == "DiscountedUsage",
            lit == "SavingsPlanCoveredUsage",
            lit.isin(["SavingsPlanNegation", "SavingsPlanUpfrontFee"]),
            lit == "RIFee",
            lit == "SavingsPlanRecurringFee",
        ],
        [ri_effective, sp_effective, 0.0, ri_unused, sp_unused],
        default=unblended.fillna(0.0),
    )


def _commitment_columns(df: pd.DataFrame, lit: pd.Series) -> dict[str, Any]:
    """The CommitmentDiscount* columns: a savings plan's or reservation's ARN, its type and
    category, and Used (covered usage) / Unused (the fee's unused share)."""
    ri_arn = _text(df, "reservation_reservation_a_r_n")
    sp_arn = _text(df, "savings_plan_savings_plan_a_r_n")
    commitment_id = sp_arn.where(sp_arn.notna(), ri_arn)
    covered = lit.isin(["DiscountedUsage", "SavingsPlanCoveredUsage"])
    fee = lit.isin(["RIFee", "SavingsPlanRecurringFee"])
    return {
        "CommitmentDiscountId": commitment_id,
        "CommitmentDiscountType": _pick(
            sp_arn.notna(), "Savings Plan", _pick(ri_arn.notna(), "Reserved Instance", None)
        ),
        "CommitmentDiscountCategory": _pick(
            sp_arn.notna(), "Spend", _pick(ri_arn.notna(), "Usage", None)
        ),
        "CommitmentDiscountStatus": _pick(
            covered & commitment_id.notna(),
            "Used",
            _pick(fee & commitment_id.notna(), "Unused", None),
        ),
    }


def _pricing_category(df: pd.DataFrame, lit: pd.Series, usage_type: pd.Series) -> Any:
    """PricingCategory: Committed (covered or reserved), Dynamic (spot), Standard (on-demand),
    else Other; none for tax, credits and refunds."""
    term = _col(df, "pricing_term").fillna("").astype(str)
    purchase = _col(df, "pricing_purchase_option").fillna("").astype(str)
    covered = lit.isin(["DiscountedUsage", "SavingsPlanCoveredUsage"])
    spot = (
        (term.str.lower() == "spot")
        | (purchase.str.lower() == "spot")
        | usage_type.str.contains("SpotUsage", regex=False)
    )
    pricing = np.select(
        [covered | (term == "Reserved"), spot, (term == "OnDemand") | (lit == "Usage")],
        ["Committed", "Dynamic", "Standard"],
        default="Other",
    )
    return _pick(lit.isin(["Tax", "Credit", "Refund"]), None, pricing)
