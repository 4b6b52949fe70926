"""Attribution of shared GPU nodes' untagged cost to services, by their share of GPU-hours.

The rule (also in the README): a billing record that carries no attribution tag, on an instance
type that one or more Headroom deployments run on in the same account and region, is cost of a
shared GPU node. Each day, that cost is split across the services whose deployments ran on that
instance type there, in proportion to their GPU-hours from usage samples that day:

    gpu_hours(service, day) = Σ replicas × gpu_count × step_seconds / 3600

Untagged cost on an instance type no deployment uses (a stray experiment, storage, egress), or on
a day without usage samples, stays *unallocated*: it is shown, never dropped or guessed. Rollups
keep the raw attribution; this is computed at read time, so a change of usage samples or tags
re-attributes without re-ingesting. Both inputs are aggregated in the database. Readers do not
call this module directly: :mod:`planner.billing.reports` applies it to every cost by service.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, FloatField, Max, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from planner.billing.models import CostRollup
from planner.core.models import Deployment
from planner.usage.models import UsageSample

#: The rollup column matched against ``Deployment.instance_type``.
NODE_TYPE_FIELD = "instance_type"
#: Attributed amounts are rounded to the rollups' precision.
CENT_FRACTION = Decimal("0.000001")
NODE_KEYS = ("date", "account_id", "region", NODE_TYPE_FIELD)


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


def node_types() -> set[tuple[int, str, str]]:
    """(account id, region, instance type) of every deployment with an account."""
    return set(
        Deployment.objects.filter(account__isnull=False).values_list(
            "account_id", "region", "instance_type"
        )
    )


def gpu_hours(
    start: dt.date, end: dt.date, types: set[tuple[int, str, str]]
) -> dict[tuple, dict[int, float]]:
    """{(day, account id, region, instance type): {service id: GPU-hours}} from usage samples."""
    # A range on ts itself (the days' midnights in the current time zone, which is what
    # ts__date compares in), so PostgreSQL prunes the monthly partitions and uses the ts index.
    first = timezone.make_aware(dt.datetime.combine(start, dt.time.min))
    after = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    usage = (
        UsageSample.objects.filter(
            ts__gte=first,
            ts__lt=after,
            deployment__account_id__in={a for a, _, _ in types},
            deployment__instance_type__in={t for _, _, t in types},
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
            hours=Sum(
                F("replicas") * F("deployment__gpu_count") * F("step_seconds") / 3600.0,
                output_field=FloatField(),
            )
        )
        .order_by()
    )
    out: dict[tuple, dict[int, float]] = defaultdict(dict)
    for row in usage:
        node = (row["deployment__account_id"], row["deployment__region"])
        if (*node, row["deployment__instance_type"]) in types and row["hours"]:
            key = (row["day"], *node, row["deployment__instance_type"])
            out[key][row["deployment__service_id"]] = row["hours"]
    return out


def split_untagged(
    rollups, dims: Sequence[str] = (), fields: Sequence[str] = ("effective_cost",)
) -> Iterator[tuple[dict, int, float, float, list[Decimal]]]:
    """The shared-node part of the untagged rows of the ``rollups`` queryset.

    Yields (row, service id, GPU-hours, share, amounts): ``row`` holds the node keys
    (date, account_id, region, instance type) and ``dims``; ``amounts`` are the row's ``fields``
    times the share, rounded to the rollups' precision. Rows with no matching deployment or no
    usage that day yield nothing (they stay unallocated).
    """
    types = node_types()
    if not types:
        return
    untagged = rollups.filter(
        service__isnull=True,
        account_id__in={a for a, _, _ in types},
        **{f"{NODE_TYPE_FIELD}__in": {t for _, _, t in types}},
    )
    group = [*NODE_KEYS, *(d for d in dims if d not in NODE_KEYS)]
    sums = {f"v{i}": Sum(f) for i, f in enumerate(fields)}
    rows = [
        r
        for r in untagged.values(*group).annotate(**sums).order_by()
        if (r["account_id"], r["region"], r[NODE_TYPE_FIELD]) in types
    ]
    if not rows:
        return
    bounds = untagged.aggregate(lo=Min("date"), hi=Max("date"))
    hours = gpu_hours(bounds["lo"], bounds["hi"], types)
    for row in rows:
        by_service = hours.get(tuple(row[k] for k in NODE_KEYS))
        if not by_service:
            continue  # no usage of this node type that day: stays unallocated
        total = sum(by_service.values())
        for service_id, used in sorted(by_service.items()):
            share = used / total
            factor = Decimal(repr(share))
            amounts = [
                (Decimal(row[f"v{i}"] or 0) * factor).quantize(CENT_FRACTION)
                for i in range(len(fields))
            ]
            yield row, service_id, used, share, amounts


def shared_gpu_allocations(
    start: dt.date, end: dt.date, account_id: int | None = None
) -> list[SharedCostAllocation]:
    """Allocations of untagged shared-node cost between `start` and `end` (inclusive)."""
    rollups = CostRollup.objects.filter(date__gte=start, date__lte=end)
    if account_id is not None:
        rollups = rollups.filter(account_id=account_id)
    return [
        SharedCostAllocation(
            date=row["date"],
            account_id=row["account_id"],
            region=row["region"],
            instance_type=row[NODE_TYPE_FIELD],
            service_id=service_id,
            gpu_hours=used,
            share=share,
            allocated_usd=amounts[0],
        )
        for row, service_id, used, share, amounts in split_untagged(rollups)
    ]


def shared_cost_by_service(
    start: dt.date, end: dt.date, account_id: int | None = None
) -> dict[int, Decimal]:
    """Total shared-node cost attributed to each service id over the window."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for a in shared_gpu_allocations(start, end, account_id):
        totals[a.service_id] += a.allocated_usd
    return dict(totals)
