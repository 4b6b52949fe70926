"""Rollup rows written straight into CostRollup (the table budgets and detectors read), so
every expected number in the alert tests can be computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal


def add_cost(
    account,
    day: dt.date,
    usd: float,
    service=None,
    sku: str = "g5.xlarge",
    category: str = "Usage",
    pricing: str = "Standard",
):
    from planner.billing.models import CostRollup

    value = Decimal(f"{usd:.6f}")
    return CostRollup.objects.create(
        date=day,
        account=account,
        billing_period_start=day.replace(day=1),
        provider="AWS",
        service_name="Amazon Elastic Compute Cloud",
        region="us-east-1",
        sku=sku,
        pricing_category=pricing,
        charge_category=category,
        service_tag=service.tag_value if service else "",
        service=service,
        billed_cost=value,
        effective_cost=value,
        list_cost=value,
    )


def add_daily(account, first: dt.date, last: dt.date, usd: float, **kw) -> float:
    """Same cost every day from first to last inclusive; returns the total."""
    day, total = first, 0.0
    while day <= last:
        add_cost(account, day, usd, **kw)
        total += usd
        day += dt.timedelta(days=1)
    return total
