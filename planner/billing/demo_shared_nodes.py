"""The demo fleet's shared GPU-node cost: one warm spare node per node pool, untagged.

Each Kubernetes node pool (one instance type in one account and region) keeps a spare node up
during the working day (``SPARE_HOURS_UTC``) so a scale-out does not wait for a cold start. The
spare belongs to no workload, so its instance-hours carry no attribution tag; they are billed
on demand at the catalog price. The shared-node rule (``planner/billing/attribution.py``)
splits them across the services on that pool by GPU-hours, so the demo shows shared-node cost
on every page that shows cost by service.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import pandas as pd

#: UTC hours [start, end) during which each pool's spare node runs.
SPARE_HOURS_UTC = (6, 18)


def spare_node_rows(
    services: Iterable,
    catalog: dict,
    hours: pd.DatetimeIndex,
    base_row: Callable,
    compute_service: dict[str, str],
) -> pd.DataFrame:
    """FOCUS rows of one spare node per distinct (provider, region, instance type) pool of
    ``services``, for every hour of ``hours`` within ``SPARE_HOURS_UTC``."""
    lo, hi = SPARE_HOURS_UTC
    ts = hours[(hours.hour >= lo) & (hours.hour < hi)]
    pools = sorted({(s.provider, s.region, s.instance_type) for s in services})
    frames = []
    for provider, region, instance_type in pools:
        offer = catalog[(provider, instance_type, region)]
        price = offer["ondemand_usd_per_hour"]
        row = base_row(provider, region, ts)
        row.update(
            ChargeCategory="Usage",
            ChargeDescription=f"{instance_type} on-demand instance-hours (node-pool spare)",
            PricingCategory="Standard",
            PricingQuantity=1.0,
            PricingUnit="Hours",
            ConsumedQuantity=1.0,
            ConsumedUnit="Hours",
            ListUnitPrice=price,
            ListCost=price,
            ContractedUnitPrice=price,
            ContractedCost=price,
            BilledCost=price,
            EffectiveCost=price,
            ResourceId=f"{provider}:{region}:{instance_type}-pool-spare",
            ResourceName=f"{instance_type}-pool-spare",
            ResourceType="Virtual Machine",
            ServiceCategory="Compute",
            ServiceName=compute_service[provider],
            SkuId=instance_type,
            SkuPriceId=f"{instance_type}:Standard",
            Tags=None,
            x_Extensions=json.dumps(
                {"x_InstanceType": instance_type, "x_GpuModel": offer["gpu_model"]}
            ),
        )
        frames.append(pd.DataFrame(row))
    return pd.concat(frames, ignore_index=True)
