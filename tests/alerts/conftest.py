"""Helpers for alert tests: rollup rows written straight into CostRollup (the table the
budgets and detectors read), so every expected number can be computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest


@pytest.fixture
def fleet(db):
    """One AWS account and two services, no cost yet."""
    from planner.core.models import CloudAccount, Service

    account = CloudAccount.objects.create(
        provider="aws", account_id="999900001111", name="Test AWS"
    )
    chat = Service.objects.create(
        slug="t-chat",
        name="T chat",
        modality="llm_chat",
        unit_of_work="1k tokens",
        latency_slo_p95_ms=2000,
    )
    image = Service.objects.create(
        slug="t-image",
        name="T image",
        modality="image_generation",
        unit_of_work="1k images",
        latency_slo_p95_ms=1500,
    )
    return {"account": account, "chat": chat, "image": image}


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
