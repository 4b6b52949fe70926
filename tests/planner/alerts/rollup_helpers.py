"""Rollup rows written straight into CostRollup (the table budgets and detectors read), so
every expected number in the alert tests can be computed by hand."""

from __future__ import annotations

import datetime as dt


def add_cost(
    account,
    day: dt.date,
    usd: float,
    service=None,
    sku: str = "g5.xlarge",
    category: str = "Usage",
    pricing: str = "Standard",
):
    from tests.factories import make_rollup

    return make_rollup(
        account,
        day,
        usd,
        service_name="Amazon Elastic Compute Cloud",
        sku=sku,
        pricing_category=pricing,
        charge_category=category,
        service_tag=service.tag_value if service else "",
        service=service,
    )


def add_daily(account, first: dt.date, last: dt.date, usd: float, **kw) -> float:
    """Same cost every day from first to last inclusive; returns the total."""
    day, total = first, 0.0
    while day <= last:
        add_cost(account, day, usd, **kw)
        total += usd
        day += dt.timedelta(days=1)
    return total
