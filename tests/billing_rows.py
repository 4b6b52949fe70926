"""Hand-written FOCUS billing records loaded through the real loader (for tests whose figures
are checked by hand). Dates should be far from the demo fleet's (2026) so the test database's
demo data never mixes in; filter by the returned account."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from planner.billing.loader import load_batches
from planner.core.demo import to_focus_batches
from planner.core.models import CloudAccount

DEFAULTS = {
    "BillingAccountId": "acct",
    "BillingAccountName": "Test account",
    "BillingCurrency": "USD",
    "ChargeCategory": "Usage",
    "ChargeFrequency": "Usage-Based",
    "ServiceProviderName": "AWS",
    "HostProviderName": "AWS",
    "InvoiceIssuerName": "AWS",
    "ServiceName": "Amazon EC2",
    "ServiceCategory": "Compute",
    "RegionId": "us-east-1",
    "PricingUnit": "Hours",
    "ConsumedUnit": "Hours",
}


def month_start(ts: dt.datetime) -> dt.datetime:
    return ts.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def load_rows(account: CloudAccount, rows: list[dict]):
    """Load ``rows`` (each needs ChargePeriodStart as a UTC datetime and the amounts) for
    ``account``; the charge lasts one hour and the billing period is its calendar month."""
    records = []
    for r in rows:
        rec = {**DEFAULTS, "BillingAccountId": account.account_id, **r}
        start = rec["ChargePeriodStart"]
        rec.setdefault("ChargePeriodEnd", start + dt.timedelta(hours=1))
        first = month_start(start)
        rec.setdefault("BillingPeriodStart", first)
        rec.setdefault("BillingPeriodEnd", (first + dt.timedelta(days=32)).replace(day=1))
        for k in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            rec.setdefault(k, rec.get("EffectiveCost", 0.0))
        records.append(rec)
    return load_batches(to_focus_batches(pd.DataFrame(records)), account)
