"""The demo fleet: seven multimodal services on AWS, Azure and Google Cloud GPUs.

Deterministic for a seed. Demand follows diurnal and weekly cycles with the minute-to-minute
burstiness of the real Azure LLM inference trace (fixtures/llm_requests_per_minute.csv); replicas
follow demand like an autoscaler with a utilisation target; capacity is bought as commitments,
spot and on-demand; prices come from fixtures/demo_catalog.csv. Billing records are FOCUS 1.2
rows handed to the same loader every connector uses; usage samples are written per deployment at
`usage_step_min` resolution. A few cost anomalies are injected and returned so tests can find them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from planner.billing.demo_shared_nodes import spare_node_rows

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROVIDER_NAMES = {"aws": "AWS", "azure": "Microsoft", "gcp": "Google Cloud"}
COMPUTE_SERVICE = {
    "aws": "Amazon Elastic Compute Cloud",
    "azure": "Virtual Machines",
    "gcp": "Compute Engine",
}
STORAGE_SERVICE = {
    "aws": "Amazon Simple Storage Service",
    "azure": "Storage",
    "gcp": "Cloud Storage",
}
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "eastus": "East US", "us-central1": "Iowa"}
ACCOUNTS = {
    "aws": ("111122223333", "Demo ML Production (AWS)"),
    "azure": ("00000000-0000-0000-0000-00000000d3m0", "Demo AI Subscription (Azure)"),
    "gcp": ("demo-genai-prod", "Demo GenAI Project (Google Cloud)"),
}


@dataclass(frozen=True)
class DemoService:
    slug: str
    name: str
    modality: str
    unit_of_work: str
    units_per_request: float
    slo_p95_ms: int
    provider: str
    instance_type: str
    region: str
    throughput_rps: float  # per replica, within the SLO
    peak_rps: float
    min_replicas: int
    max_replicas: int
    committed_replicas: int
    spot_share: float
    base_latency_ms: float
    model_mem_gib: float
    batch_window: tuple[int, int] | None = None  # UTC hours a batch pipeline runs


SERVICES = (
    DemoService(
        "chat-assistant",
        "Chat assistant",
        "llm_chat",
        "1k tokens",
        1.5,
        6000,  # p95 of a whole completion; the recorded p95 runs ~4 s at peak
        "aws",
        "g5.12xlarge",
        "us-east-1",
        4.0,
        48.0,
        2,
        20,
        4,
        0.0,
        900.0,
        70.0,
    ),
    DemoService(
        "embeddings",
        "Embeddings API",
        "embeddings",
        "1k tokens",
        0.5,
        150,
        "gcp",
        "g2-standard-8",
        "us-central1",
        40.0,
        360.0,
        2,
        14,
        3,
        0.3,
        35.0,
        6.0,
    ),
    DemoService(
        "image-gen",
        "Image generation",
        "image_generation",
        "1k images",
        0.001,
        4000,  # p95 per image incl. queueing at the autoscaler target
        "aws",
        "g5.2xlarge",
        "us-east-1",
        0.6,
        5.0,
        1,
        14,
        2,
        0.5,
        420.0,
        18.0,
    ),
    DemoService(
        "speech-to-text",
        "Speech-to-text",
        "speech_to_text",
        "audio-hour",
        30 / 3600,
        3000,
        "azure",
        "Standard_NC4as_T4_v3",
        "eastus",
        3.0,
        24.0,
        2,
        12,
        4,
        0.0,
        600.0,
        10.0,
    ),
    DemoService(
        "text-to-speech",
        "Text-to-speech",
        "text_to_speech",
        "audio-hour",
        15 / 3600,
        800,
        "gcp",
        "g2-standard-4",
        "us-central1",
        5.0,
        22.0,
        1,
        8,
        1,
        0.4,
        180.0,
        8.0,
    ),
    DemoService(
        "video-understanding",
        "Video understanding",
        "video",
        "video-minute",
        1.0,
        10000,
        "azure",
        "Standard_NC24ads_A100_v4",
        "eastus",
        0.3,
        2.1,
        1,
        10,
        0,
        0.0,
        4000.0,
        60.0,
    ),
    DemoService(
        "batch-summariser",
        "Nightly batch summariser",
        "batch",
        "1k documents",
        0.001,
        60000,
        "aws",
        "g6.xlarge",
        "us-east-1",
        2.0,
        14.0,
        0,
        8,
        0,
        1.0,
        8000.0,
        16.0,
        (1, 6),
    ),
)


def load_catalog() -> dict[tuple[str, str, str], dict]:
    with open(FIXTURES / "demo_catalog.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = {}
    for r in rows:
        for k in (
            "ondemand_usd_per_hour",
            "spot_usd_per_hour",
            "commit_1y_usd_per_hour",
            "gpu_memory_gib",
        ):
            r[k] = float(r[k]) if r[k] else None
        r["gpu_count"] = int(r["gpu_count"])
        r["spot_interruption_bucket"] = (
            int(r["spot_interruption_bucket"]) if r["spot_interruption_bucket"] else None
        )
        out[(r["provider"], r["instance_type"], r["region"])] = r
    return out


def burstiness(rng: np.random.Generator, n: int) -> np.ndarray:
    """Multiplicative noise with the real trace's minute-to-minute shape (mean 1)."""
    path = FIXTURES / "llm_requests_per_minute.csv"
    with open(path, newline="") as fh:
        reqs = np.array(
            [
                float(r["requests"])
                for r in csv.DictReader(fh)
                if r["source"] == "azure_llm_2023_conv"
            ]
        )
    base = reqs / reqs.mean()
    base = np.convolve(base, np.ones(5) / 5, mode="same")  # 5-minute smoothing
    base = base / base.mean()
    idx = (rng.integers(0, len(base)) + np.arange(n)) % len(base)
    return np.clip(0.75 + 0.25 * base[idx] * rng.lognormal(0.0, 0.08, n), 0.3, 2.5)


def demand_profile(
    svc: DemoService, index: pd.DatetimeIndex, rng: np.random.Generator
) -> np.ndarray:
    """Requests per second at each timestamp: diurnal × weekly × trend × burstiness."""
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60.0
    days = (index - index[0]).total_seconds().to_numpy() / 86400.0
    if svc.batch_window:
        lo, hi = svc.batch_window
        shape = np.where((hours >= lo) & (hours < hi), 1.0, 0.0)
    else:
        shape = (
            0.35 + 0.65 * np.clip(np.sin((hours - 9.0) / 24.0 * 2 * np.pi) * 0.5 + 0.5, 0, 1) ** 1.5
        )
        weekend = index.day_of_week.to_numpy() >= 5
        shape = shape * np.where(weekend, 0.7, 1.0)
    trend = 1.0 + 0.12 * days / 90.0
    return svc.peak_rps * shape * trend * burstiness(rng, len(index))


@dataclass(frozen=True)
class InjectedAnomaly:
    service: str | None
    start: dt.datetime
    end: dt.datetime
    kind: str
    description: str


def replicas_for(svc: DemoService, rps: np.ndarray, target_util: float = 0.7) -> np.ndarray:
    needed = np.ceil(rps / (svc.throughput_rps * target_util))
    return np.clip(needed, svc.min_replicas, svc.max_replicas)


def _month_start(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.normalize().replace(day=1)


def _next_month(ts: pd.Timestamp) -> pd.Timestamp:
    return (ts.replace(day=1) + pd.Timedelta(days=32)).replace(day=1).normalize()


def generate(days: int = 90, seed: int = 7, end: dt.date | None = None, usage_step_min: int = 5):
    """Return (billing: pd.DataFrame of FOCUS 1.2 rows, usage: pd.DataFrame, anomalies: list).

    `end` is the exclusive last day (default: today, UTC)."""
    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    end_day = pd.Timestamp(end or dt.datetime.now(dt.UTC).date(), tz="UTC")
    start_day = end_day - pd.Timedelta(days=days)
    minutes = pd.date_range(start_day, end_day, freq=f"{usage_step_min}min", inclusive="left")
    hours = pd.date_range(start_day, end_day, freq="h", inclusive="left")
    anomalies = _anomalies(start_day, days)
    billing, usage = [], []
    for svc in SERVICES:
        offer = catalog[(svc.provider, svc.instance_type, svc.region)]
        rps = demand_profile(svc, minutes, rng)
        reps = replicas_for(svc, rps)
        # Billing is hourly: the hour's peak replica count (instances are billed while up).
        per_hour = (
            pd.Series(reps, index=minutes).resample("h").max().reindex(hours).to_numpy().copy()
        )
        for a in anomalies:
            if a.kind == "runaway-scale-out" and a.service == svc.slug:
                mask = (hours >= a.start) & (hours < a.end)
                per_hour[mask] = svc.max_replicas
        billing.append(_billing_rows(svc, offer, hours, per_hour, rng))
        usage.append(_usage_rows(svc, offer, minutes, rps, reps, rng, usage_step_min))
    billing.append(_overhead_rows(hours, anomalies, catalog, rng))
    billing.append(spare_node_rows(SERVICES, catalog, hours, _base_row, COMPUTE_SERVICE))
    from planner.whatif.demo_operations import operate  # the fleet run by its autoscalers

    frames = pd.concat(billing, ignore_index=True), pd.concat(usage, ignore_index=True)
    return (*operate(*frames, SERVICES, catalog, anomalies, seed), anomalies)


def _anomalies(start_day: pd.Timestamp, days: int) -> list[InjectedAnomaly]:
    def at(frac: float, hour: int) -> pd.Timestamp:
        return start_day + pd.Timedelta(days=int(days * frac), hours=hour)

    return [
        InjectedAnomaly(
            "image-gen",
            at(0.66, 6),
            at(0.66, 22),
            "runaway-scale-out",
            "Image generation pinned at max replicas on on-demand for 16 hours",
        ),
        InjectedAnomaly(
            None,
            at(0.82, 0),
            at(0.82, 0) + pd.Timedelta(hours=54),
            "untagged-gpu-instance",
            "An untagged p4d.24xlarge left running for 54 hours",
        ),
        InjectedAnomaly(
            "chat-assistant",
            at(0.45, 0),
            at(0.45, 24),
            "egress-spike",
            "Data transfer out of chat-assistant jumps twenty-fold for a day",
        ),
    ]


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
    tags = json.dumps({"service": svc.slug, "modality": svc.modality, "env": "prod"})
    frames = []
    parts = [
        ("Standard", od_qty, od, None),
        ("Dynamic", spot_qty, spot, None),
        ("Committed", used_commit, commit, "Used"),
        ("Committed", unused_commit, commit, "Unused"),
    ]
    for category, qty, price, status in parts:
        mask = qty > 0
        if not mask.any() or price is None:
            continue
        ts = hours[mask]
        q = qty[mask]
        row = _base_row(svc.provider, svc.region, ts)
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
            CommitmentDiscountType=(
                "Reservation"
                if svc.provider == "azure"
                else "Committed Use Discount"
                if svc.provider == "gcp"
                else "Savings Plan"
            )
            if status
            else None,
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
    return pd.concat(frames, ignore_index=True)


def _overhead_rows(hours, anomalies, catalog, rng) -> pd.DataFrame:
    """Storage, egress, a monthly credit, and the untagged-instance and egress anomalies."""
    frames = []
    days_idx = hours[hours.hour == 0]
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
    frames.append(pd.DataFrame(row))
    firsts = days_idx[days_idx.day == 1]
    if len(firsts):
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
        frames.append(pd.DataFrame(row))
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
    frames.append(pd.DataFrame(row))
    return pd.concat(frames, ignore_index=True)


def _usage_rows(svc, offer, minutes, rps, reps, rng, step_min) -> pd.DataFrame:
    capacity = reps * svc.throughput_rps
    util = np.divide(rps, capacity, out=np.zeros_like(rps), where=capacity > 0)
    gpu_util = np.clip(5.0 + 85.0 * util + rng.normal(0, 2.0, len(rps)), 0, 100)
    gpu_util = np.where(reps > 0, gpu_util, 0.0)
    rho = np.clip(util, 0, 0.98)
    p50 = svc.base_latency_ms * (1 + 0.5 * rho / (1 - rho))
    p95 = svc.base_latency_ms * (1.6 + 1.5 * rho / (1 - rho)) * rng.lognormal(0, 0.05, len(rps))
    queue = np.maximum(0.0, (rho / (1 - rho)) * reps * 0.5 - reps * 0.2)
    mem_total = offer["gpu_memory_gib"]
    return pd.DataFrame(
        {
            "service": svc.slug,
            "ts": minutes,
            "step_seconds": step_min * 60,
            "replicas": reps,
            "gpu_util_pct": gpu_util,
            "gpu_mem_used_gib": np.where(
                reps > 0, np.minimum(mem_total * 0.95, svc.model_mem_gib + 2.0 * util), 0.0
            ),
            "gpu_mem_total_gib": mem_total,
            "request_rate_rps": rps,
            "queue_depth": queue,
            "p50_latency_ms": np.where(reps > 0, p50, np.nan),
            "p95_latency_ms": np.where(reps > 0, p95, np.nan),
            "units_of_work": rps * step_min * 60 * svc.units_per_request,
        }
    )


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
