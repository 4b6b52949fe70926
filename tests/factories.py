"""Test-object factories (what factory_boy would give, without the dependency): one place that
knows how to build a valid account, service, deployment, user with a role, usage series and cost
rollup row. A test passes only the fields its hand calculation depends on; everything else gets a
sensible default, and names it does not give come from a sequence, so they never collide with
the demo fleet every test database starts with or with each other.

    acct = make_account(account_id="cc-pool")
    chat = make_service(slug="cc-chat", tag_value="cc-chat")
    dep = make_deployment(chat, acct, instance_type="g5.12xlarge", gpu_count=4)
    make_hourly_samples(dep, start, replicas=3.0)          # 24 hourly samples
    make_rollup(acct, day, Decimal("100"), instance_type="g5.12xlarge")
    viewer = make_user("viewer")

Imported by test modules only (they are collected after Django is set up).
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model

from planner.billing.models import CostRollup
from planner.core.models import CloudAccount, Deployment, Service
from planner.core.roles import assign_role
from planner.usage.models import UsageSample

_SEQUENCE = itertools.count(1)


def _next() -> int:
    return next(_SEQUENCE)


def make_account(**fields) -> CloudAccount:
    """A cloud account (AWS by default) with a unique ``account_id``."""
    n = _next()
    defaults = {"provider": "aws", "account_id": f"f-acct-{n}", "name": f"Account {n}"}
    return CloudAccount.objects.create(**{**defaults, **fields})


def make_service(**fields) -> Service:
    """A chat LLM service with a unique slug, billed per 1k tokens, p95 SLO 2 s."""
    n = _next()
    defaults = {
        "slug": f"f-svc-{n}",
        "name": f"Service {n}",
        "modality": "llm_chat",
        "unit_of_work": "1k tokens",
        "latency_slo_p95_ms": 2000,
    }
    return Service.objects.create(**{**defaults, **fields})


def make_deployment(service: Service, account: CloudAccount | None = None, **fields) -> Deployment:
    """One deployment of ``service`` (in ``account``, on its provider; AWS when there is none):
    a single-A10G g5.xlarge in us-east-1 serving 1 request/s per replica."""
    n = _next()
    defaults = {
        "name": f"{service.slug}-{n}",
        "provider": account.provider if account is not None else "aws",
        "region": "us-east-1",
        "instance_type": "g5.xlarge",
        "gpu_model": "A10G",
        "throughput_rps_per_replica": 1.0,
    }
    return Deployment.objects.create(service=service, account=account, **{**defaults, **fields})


def make_user(role: str | None, username: str | None = None):
    """A user holding ``role`` (viewer / analyst / admin), or no role at all when ``None``."""
    username = username or f"f-{role or 'norole'}-{_next()}"
    user = get_user_model().objects.create_user(username, password=f"pw-{username}-123!")
    if role is not None:
        assign_role(user, role)
    return user


def make_hourly_samples(
    deployment: Deployment, start: dt.datetime, replicas: float, hours: int = 24, **fields
) -> list[UsageSample]:
    """``hours`` hourly usage samples from ``start``, each with ``replicas`` running."""
    return UsageSample.objects.bulk_create(
        UsageSample(
            deployment=deployment,
            ts=start + dt.timedelta(hours=h),
            step_seconds=3600,
            replicas=replicas,
            **fields,
        )
        for h in range(hours)
    )


def make_rollup(
    account: CloudAccount, day: dt.date | str, cost: Decimal | float, **fields
) -> CostRollup:
    """One daily rollup row of AWS cost in us-east-1: billed = effective = list = ``cost``
    (floats are rounded to the column's 6 decimals), in the billing period of ``day``'s month."""
    value = cost if isinstance(cost, Decimal) else Decimal(f"{cost:.6f}")
    if "billing_period_start" not in fields:
        fields["billing_period_start"] = day.replace(day=1)
    defaults = {
        "provider": "AWS",
        "region": "us-east-1",
        "billed_cost": value,
        "effective_cost": value,
        "list_cost": value,
    }
    return CostRollup.objects.create(date=day, account=account, **{**defaults, **fields})
