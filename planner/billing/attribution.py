"""Attribution of shared GPU nodes' untagged cost to services, by their share of GPU-hours.

The rule (also in the README): a billing record that carries no attribution tag, on an instance
type that one or more Headroom deployments run on in the same account and region, is cost of a
shared GPU node. Each day, that cost is split across the services whose deployments ran on that
instance type there, in proportion to their GPU-hours from usage samples that day:

    gpu_hours(service, day) = Σ replicas × gpu_count × step_seconds / 3600

Untagged cost on an instance type no deployment uses (a stray experiment, storage, egress), or on
a day without usage samples, stays *unallocated*: it is shown, never dropped or guessed. Rollups
keep the raw attribution; this is computed at read time, so a change of usage samples or tags
re-attributes without re-ingesting. Both inputs are aggregated in the database.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, FloatField, Sum
from django.db.models.functions import TruncDate

from planner.billing.models import CostRollup
from planner.core.models import Deployment
from planner.usage.models import UsageSample


@dataclass(frozen=True)
class SharedCostAllocation:
    date: dt.date
    account_id: int
    region: str
    instance_type: str
    service_id: int
    gpu_hours: float
    share: float
    allocated_usd: Decimal


def shared_gpu_allocations(
    start: dt.date, end: dt.date, account_id: int | None = None
) -> list[SharedCostAllocation]:
    """Allocations of untagged shared-node cost between `start` and `end` (inclusive)."""
    deployments = Deployment.objects.filter(account__isnull=False)
    if account_id is not None:
        deployments = deployments.filter(account_id=account_id)
    node_types = {
        (a, r, t) for a, r, t in deployments.values_list("account_id", "region", "instance_type")
    }
    if not node_types:
        return []
    untagged = (
        CostRollup.objects.filter(
            service__isnull=True,
            date__gte=start,
            date__lte=end,
            sku__in={t for _, _, t in node_types},
            account_id__in={a for a, _, _ in node_types},
        )
        .values("date", "account_id", "region", "sku")
        .annotate(cost=Sum("effective_cost"))
    )
    usage = (
        UsageSample.objects.filter(
            ts__date__gte=start,
            ts__date__lte=end,
            deployment__in=deployments,
            replicas__isnull=False,
        )
        .annotate(day=TruncDate("ts"))
        .values(
            "day",
            "deployment__account_id",
            "deployment__region",
            "deployment__instance_type",
            "deployment__service_id",
        )
        .annotate(
            gpu_hours=Sum(
                F("replicas") * F("deployment__gpu_count") * F("step_seconds") / 3600.0,
                output_field=FloatField(),
            )
        )
    )
    hours: dict[tuple, dict[int, float]] = defaultdict(dict)
    for row in usage:
        key = (
            row["day"],
            row["deployment__account_id"],
            row["deployment__region"],
            row["deployment__instance_type"],
        )
        if row["gpu_hours"]:
            hours[key][row["deployment__service_id"]] = row["gpu_hours"]
    out: list[SharedCostAllocation] = []
    for row in untagged:
        key = (row["date"], row["account_id"], row["region"], row["sku"])
        if key[1:] not in node_types or not hours.get(key):
            continue  # no deployment of this type there, or no usage that day: stays unallocated
        total = sum(hours[key].values())
        for service_id, gpu_hours in sorted(hours[key].items()):
            share = gpu_hours / total
            out.append(
                SharedCostAllocation(
                    date=row["date"],
                    account_id=row["account_id"],
                    region=row["region"],
                    instance_type=row["sku"],
                    service_id=service_id,
                    gpu_hours=gpu_hours,
                    share=share,
                    allocated_usd=(row["cost"] * Decimal(repr(share))).quantize(
                        Decimal("0.000001")
                    ),
                )
            )
    return out


def shared_cost_by_service(
    start: dt.date, end: dt.date, account_id: int | None = None
) -> dict[int, Decimal]:
    """Total shared-node cost attributed to each service id over the window."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for a in shared_gpu_allocations(start, end, account_id):
        totals[a.service_id] += a.allocated_usd
    return dict(totals)
