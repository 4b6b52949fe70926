"""FOCUS 1.2 rows of the demo bills: the common row header, services' compute rows, batches."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from planner.core.demo.fleet import ACCOUNTS, COMPUTE_SERVICE, PROVIDER_NAMES, REGION_NAMES


def _month_start(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.normalize().replace(day=1)


def _next_month(ts: pd.Timestamp) -> pd.Timestamp:
    return (ts.replace(day=1) + pd.Timedelta(days=32)).replace(day=1).normalize()


def _base_row(provider: str, region: str, ts: pd.DatetimeIndex) -> dict:
    acct_id, acct_name = ACCOUNTS[provider]
    starts = ts.map(_month_start)
    return {
        "BillingAccountId": acct_id,
        "BillingAccountName": acct_name,
        "SubAccountId": acct_id,
        "SubAccountName": acct_name,
        "BillingCurrency": "USD",
        "BillingPeriodStart": starts,
        "BillingPeriodEnd": starts.map(_next_month),
        "ChargePeriodStart": ts,
        "ChargePeriodEnd": ts + pd.Timedelta(hours=1),
        "ChargeFrequency": "Usage-Based",
        "ProviderName": PROVIDER_NAMES[provider],
        "PublisherName": PROVIDER_NAMES[provider],
        "ServiceProviderName": PROVIDER_NAMES[provider],
        "HostProviderName": PROVIDER_NAMES[provider],
        "InvoiceIssuerName": PROVIDER_NAMES[provider],
        "RegionId": region,
        "RegionName": REGION_NAMES.get(region, region),
    }


def _billing_rows(svc, offer, hours, per_hour, rng) -> pd.DataFrame:
    od, spot, commit = (
        offer["ondemand_usd_per_hour"],
        offer["spot_usd_per_hour"],
        offer["commit_1y_usd_per_hour"],
    )
    committed = float(svc.committed_replicas)
    used_commit = np.minimum(per_hour, committed)
    unused_commit = committed - used_commit
    rest = per_hour - used_commit
    spot_qty = np.floor(rest * svc.spot_share) if spot else np.zeros_like(rest)
    od_qty = rest - spot_qty
    parts = [
        ("Standard", od_qty, od, None),
        ("Dynamic", spot_qty, spot, None),
        ("Committed", used_commit, commit, "Used"),
        ("Committed", unused_commit, commit, "Unused"),
    ]
    frames = instance_hour_rows(svc, offer, hours, parts)
    return pd.concat(frames, ignore_index=True)


#: the commitment discount each provider sells for instances
COMMITMENT_TYPE = {"azure": "Reservation", "gcp": "Committed Use Discount"}


def instance_hour_rows(svc, offer: dict, hours, parts, *, min_qty: float = 0.0) -> list:
    """FOCUS usage rows of a service's instance-hours, one frame per purchase category:
    ``parts`` holds (PricingCategory, hourly quantity, unit price, commitment status or None);
    hours with at most ``min_qty`` are left out, as is a category without a price."""
    od = offer["ondemand_usd_per_hour"]
    tags = json.dumps({"service": svc.slug, "modality": svc.modality, "env": "prod"})
    commit_type = COMMITMENT_TYPE.get(svc.provider, "Savings Plan")
    frames = []
    for category, qty, price, status in parts:
        mask = qty > min_qty
        if not mask.any() or price is None:
            continue
        q = qty[mask]
        row = _base_row(svc.provider, svc.region, hours[mask])
        row.update(
            ChargeCategory="Usage",
            ChargeDescription=f"{svc.instance_type} {category.lower()} instance-hours",
            PricingCategory=category,
            PricingQuantity=q,
            PricingUnit="Hours",
            ConsumedQuantity=q if status != "Unused" else np.zeros_like(q),
            ConsumedUnit="Hours",
            ListUnitPrice=od,
            ListCost=q * od,
            ContractedUnitPrice=price,
            ContractedCost=q * price,
            BilledCost=q * price,
            EffectiveCost=q * price,
            CommitmentDiscountId=f"commit-{svc.slug}" if status else None,
            CommitmentDiscountCategory="Usage" if status else None,
            CommitmentDiscountType=commit_type if status else None,
            CommitmentDiscountStatus=status,
            ResourceId=f"{svc.provider}:{svc.region}:{svc.slug}-{category.lower()}",
            ResourceName=f"{svc.slug}-{category.lower()}-pool",
            ResourceType="Virtual Machine",
            ServiceCategory="Compute",
            ServiceName=COMPUTE_SERVICE[svc.provider],
            SkuId=svc.instance_type,
            SkuPriceId=f"{svc.instance_type}:{category}",
            Tags=tags,
            x_Extensions=json.dumps(
                {"x_InstanceType": svc.instance_type, "x_GpuModel": offer["gpu_model"]}
            ),
        )
        frames.append(pd.DataFrame(row))
    return frames


def to_focus_batches(billing: pd.DataFrame, batch_rows: int = 50_000):
    """FOCUS record batches, aligned to the canonical (1.4) schema when the FOCUS module provides one."""
    frame = billing.copy()
    for col in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    try:
        from ingest.focus.schema import CANONICAL_SCHEMA
    except ImportError:  # pragma: no cover - the FOCUS module ships with Headroom
        CANONICAL_SCHEMA = None
    if CANONICAL_SCHEMA is not None:
        cols = []
        for fld in CANONICAL_SCHEMA:
            if fld.name in table.column_names:
                cols.append(table.column(fld.name).cast(fld.type))
            else:
                cols.append(pa.nulls(table.num_rows, fld.type))
        table = pa.Table.from_arrays(cols, schema=CANONICAL_SCHEMA)
    return table.to_batches(max_chunksize=batch_rows)
