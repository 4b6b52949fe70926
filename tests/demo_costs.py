"""Independent oracle of the demo fleet's cost per service, for tests comparing pages and APIs
to raw rollups: a service's tagged rows plus the untagged cost of its node pool (the demo's
spare nodes, planner/billing/demo_shared_nodes.py) on the days it ran. Every demo pool runs
one service, so the shared-node rule gives it all of that cost; this is checked, not assumed.
Shares nothing with planner/billing/reports.py or attribution.py."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncDate


def pool_cost(slug: str, start, end) -> Decimal:
    """Untagged cost of the service's own node pool on days it ran, start..end inclusive."""
    from planner.billing.models import CostRollup
    from planner.core.models import Deployment
    from planner.usage.models import UsageSample

    dep = Deployment.objects.get(service__slug=slug)
    pool = dict(account=dep.account, region=dep.region, instance_type=dep.instance_type)
    assert Deployment.objects.filter(**pool).count() == 1
    ran = set(
        UsageSample.objects.filter(deployment=dep, replicas__gt=0)
        .annotate(day=TruncDate("ts"))
        .values_list("day", flat=True)
    )
    rows = CostRollup.objects.filter(
        service__isnull=True, date__range=(start, end), date__in=ran, **pool
    )
    return rows.aggregate(v=Sum("effective_cost"))["v"] or Decimal(0)


def service_cost(slug: str, start, end) -> Decimal:
    """The service's cost as every page shows it: tagged rows plus its node pool's share."""
    from planner.billing.models import CostRollup

    tagged = CostRollup.objects.filter(service__slug=slug, date__range=(start, end)).aggregate(
        v=Sum("effective_cost")
    )["v"] or Decimal(0)
    return tagged + pool_cost(slug, start, end)
