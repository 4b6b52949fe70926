"""The demo bills' rows that are not a service's compute: storage, egress, a monthly credit, and
the untagged-instance and egress anomalies."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from planner.core.demo.fleet import COMPUTE_SERVICE, STORAGE_SERVICE
from planner.core.demo.focus_rows import _base_row


def _overhead_rows(hours, anomalies, catalog, rng) -> pd.DataFrame:
    """Storage, egress, a monthly credit, and the untagged-instance and egress anomalies (the
    random draws in this order, so a seed gives the same bill)."""
    days_idx = hours[hours.hour == 0]
    frames = [_storage_rows(days_idx, rng), _egress_rows(days_idx, anomalies, rng)]
    credit = _credit_rows(days_idx)
    if credit is not None:
        frames.append(credit)
    frames.append(_stray_instance_rows(hours, anomalies, catalog))
    return pd.concat(frames, ignore_index=True)


def _storage_rows(days_idx, rng) -> pd.DataFrame:
    """Daily model-artefact storage in each provider's demo region (untagged)."""
    frames = []
    for provider, region in (("aws", "us-east-1"), ("azure", "eastus"), ("gcp", "us-central1")):
        row = _base_row(provider, region, days_idx)
        cost = 38.0 + rng.normal(0, 1.5, len(days_idx))
        row.update(
            ChargeCategory="Usage",
            ChargeDescription="Model artefact storage",
            PricingCategory="Standard",
            PricingQuantity=cost / 0.023,
            PricingUnit="GB-Day",
            ConsumedQuantity=cost / 0.023,
            ConsumedUnit="GB-Day",
            ListUnitPrice=0.023,
            ListCost=cost,
            ContractedCost=cost,
            ContractedUnitPrice=0.023,
            BilledCost=cost,
            EffectiveCost=cost,
            ResourceId=f"{provider}:{region}:model-artefacts",
            ResourceType="Storage",
            ServiceCategory="Storage",
            ServiceName=STORAGE_SERVICE[provider],
            SkuId="standard-storage",
            Tags=None,
        )
        frames.append(pd.DataFrame(row))
    return pd.concat(frames, ignore_index=True)


def _egress_rows(days_idx, anomalies, rng) -> pd.DataFrame:
    """Daily data transfer out of the chat assistant, twenty-fold on the egress-spike day."""
    egress_day = next(a for a in anomalies if a.kind == "egress-spike")
    row = _base_row("aws", "us-east-1", days_idx)
    cost = 55.0 + rng.normal(0, 3.0, len(days_idx))
    cost = np.where((days_idx >= egress_day.start) & (days_idx < egress_day.end), cost * 20, cost)
    row.update(
        ChargeCategory="Usage",
        ChargeDescription="Data transfer out to internet",
        PricingCategory="Standard",
        PricingQuantity=cost / 0.09,
        PricingUnit="GB",
        ConsumedQuantity=cost / 0.09,
        ConsumedUnit="GB",
        ListUnitPrice=0.09,
        ListCost=cost,
        ContractedUnitPrice=0.09,
        ContractedCost=cost,
        BilledCost=cost,
        EffectiveCost=cost,
        ResourceId="aws:us-east-1:chat-assistant-egress",
        ResourceType="Network",
        ServiceCategory="Networking",
        ServiceName="AWS Data Transfer",
        SkuId="DataTransfer-Out-Bytes",
        Tags=json.dumps({"service": "chat-assistant"}),
    )
    return pd.DataFrame(row)


def _credit_rows(days_idx) -> pd.DataFrame | None:
    """A $500 promotional credit on the first of each month in range (None: no first)."""
    firsts = days_idx[days_idx.day == 1]
    if not len(firsts):
        return None
    row = _base_row("aws", "us-east-1", firsts)
    row.update(
        ChargeCategory="Credit",
        ChargeDescription="Promotional credit",
        PricingCategory=None,
        BilledCost=-500.0,
        EffectiveCost=-500.0,
        ListCost=0.0,
        ContractedCost=0.0,
        ServiceName="AWS Credits",
        ServiceCategory="Other",
        ResourceId=None,
        SkuId=None,
        Tags=None,
    )
    return pd.DataFrame(row)


def _stray_instance_rows(hours, anomalies, catalog) -> pd.DataFrame:
    """The untagged p4d.24xlarge left running (the untagged-instance anomaly)."""
    stray = next(a for a in anomalies if a.kind == "untagged-gpu-instance")
    ts = hours[(hours >= stray.start) & (hours < stray.end)]
    od = catalog[("aws", "p4d.24xlarge", "us-east-1")]["ondemand_usd_per_hour"]
    row = _base_row("aws", "us-east-1", ts)
    row.update(
        ChargeCategory="Usage",
        ChargeDescription="p4d.24xlarge on-demand instance-hours",
        PricingCategory="Standard",
        PricingQuantity=1.0,
        PricingUnit="Hours",
        ConsumedQuantity=1.0,
        ConsumedUnit="Hours",
        ListUnitPrice=od,
        ListCost=od,
        ContractedUnitPrice=od,
        ContractedCost=od,
        BilledCost=od,
        EffectiveCost=od,
        ResourceId="aws:us-east-1:i-0stray0p4d0experiment",
        ResourceType="Virtual Machine",
        ServiceCategory="Compute",
        ServiceName=COMPUTE_SERVICE["aws"],
        SkuId="p4d.24xlarge",
        Tags=None,
    )
    return pd.DataFrame(row)
