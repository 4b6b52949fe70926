"""Deterministic synthetic FOCUS billing files (1.0, 1.1, 1.2) for tests and benchmarks.

Rows look like a GPU inference fleet's bill: AWS / Microsoft / Google GPU instances and
ML services, hourly usage at Standard (on-demand), Dynamic (spot) and Committed
prices, commitment purchases, negative credits, adjustments (some marked Correction)
and tax, and ``Tags`` JSON with a ``service`` key (some rows untagged, some tagged
without ``service`` so attribution has something to leave unallocated). Costs are USD,
rounded to 6 decimals; quantities are hours.

Files are written in batches of ``batch_rows`` (bounded memory, so a 10-million-row
Parquet file is fine) and the same arguments always give the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from .schema import VERSIONS, columns_for

# provider, service, category, subcategory, sku (instance type), $/hour, gpu, gpus
CATALOG = [
    ("AWS", "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "p5.48xlarge", 98.32, "H100", 8),
    ("AWS", "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "p4d.24xlarge", 32.77, "A100", 8),
    ("AWS", "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "g5.xlarge", 1.006, "A10G", 1),
    ("AWS", "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "g6.12xlarge", 4.602, "L4", 4),
    ("AWS", "Amazon SageMaker", "AI and Machine Learning", "Machine Learning", "ml.g5.2xlarge", 1.515, "A10G", 1),
    ("Microsoft", "Virtual Machines", "Compute", "Virtual Machines", "Standard_NC24ads_A100_v4", 3.673, "A100", 1),
    ("Microsoft", "Virtual Machines", "Compute", "Virtual Machines", "Standard_ND96isr_H100_v5", 98.32, "H100", 8),
    ("Microsoft", "Virtual Machines", "Compute", "Virtual Machines", "Standard_NV36ads_A10_v5", 3.2, "A10", 1),
    ("Microsoft", "Azure Machine Learning", "AI and Machine Learning", "Machine Learning", "Standard_NC6s_v3", 3.06, "V100", 1),
    ("Google", "Compute Engine", "Compute", "Virtual Machines", "a2-highgpu-1g", 3.673, "A100", 1),
    ("Google", "Compute Engine", "Compute", "Virtual Machines", "a3-highgpu-8g", 88.25, "H100", 8),
    ("Google", "Compute Engine", "Compute", "Virtual Machines", "g2-standard-4", 0.707, "L4", 1),
    ("Google", "Vertex AI", "AI and Machine Learning", "Generative AI", "vertex-a2-ultragpu-1g", 5.07, "A100", 1),
]  # fmt: skip
PROVIDERS = {
    "AWS": (
        "Amazon Web Services, Inc.",
        "111122223333",
        ["us-east-1", "us-west-2"],
        "arn:aws:ec2:{r}:111122223333:instance/i-{n:017x}",
    ),
    "Microsoft": (
        "Microsoft",
        "ea-0042",
        ["eastus", "westeurope"],
        "/subscriptions/5f1c/resourceGroups/gpu/providers/Microsoft.Compute/virtualMachines/gpu-{n:04d}",
    ),
    "Google": (
        "Google",
        "01A2B3-C4D5E6-F7A8B9",
        ["us-central1", "europe-west4"],
        "//compute.googleapis.com/projects/infer/zones/{r}-a/instances/gpu-{n:04d}",
    ),
}
PROVIDER_NAMES = list(PROVIDERS)
CATEGORIES = ["Usage", "Purchase", "Credit", "Adjustment", "Tax"]
CATEGORY_P = [0.93, 0.002, 0.025, 0.018, 0.025]
PRICING = ["Standard", "Dynamic", "Committed"]
PRICING_P = [0.55, 0.25, 0.20]
SERVICES = ["chat-llm", "embeddings", "image-gen", "speech-to-text", "video-gen"]
RESOURCES_PER_SKU = 16


def _tag_pool() -> list[str | None]:
    pool: list[str | None] = []
    for svc in SERVICES:
        for env in ("prod", "staging"):
            pool.append(f'{{"service": "{svc}", "env": "{env}", "team": "ml-platform"}}')
    pool += ['{"env": "prod", "team": "research"}', '{"cost-center": "cc-7"}', None, None]
    return pool


TAGS = _tag_pool()


@dataclass
class GeneratedFocusFile:
    """What :func:`write_focus_file` wrote. Totals are exact sums of the written values."""

    path: Path
    version: str
    fmt: str
    rows: int
    billing_periods: list[str] = field(default_factory=list)
    billed_cost_total: float = 0.0
    effective_cost_total: float = 0.0


def _fmt_for(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("csv", "csv.gz", "parquet"):
            raise ValueError("fmt must be 'csv', 'csv.gz' or 'parquet'")
        return fmt
    name = path.name.lower()
    return "parquet" if name.endswith(".parquet") else "csv.gz" if name.endswith(".gz") else "csv"


def _month_start(start: np.datetime64, k: int) -> np.datetime64:
    m = start.astype("datetime64[M]") + k
    return m.astype("datetime64[us]")


def _pick(values: list, idx: np.ndarray, typ: pa.DataType = pa.string()) -> pa.Array:
    return pa.array(values, typ).take(pa.array(idx))


def _batch(
    rng: np.random.Generator, first: int, n: int, rows: int, periods: int, start: np.datetime64
) -> dict[str, pa.Array]:
    """All FOCUS 1.0-1.4 columns (plus x_ extensions) for ``n`` rows starting at row ``first``."""
    g = np.arange(first, first + n, dtype=np.int64)
    period = (g * periods) // rows
    bp_start = np.array([_month_start(start, int(k)) for k in range(periods + 1)])
    p_start, p_end = bp_start[period], bp_start[period + 1]
    hours = ((p_end - p_start) // np.timedelta64(1, "h")).astype(np.int64)
    cp_start = p_start + (rng.integers(0, 1 << 30, n) % hours) * np.timedelta64(1, "h")
    cat = rng.choice(len(CATEGORIES), n, p=CATEGORY_P)
    sku = rng.integers(0, len(CATALOG), n)
    usage = cat == 0
    purchase = cat == 1
    cp_start = np.where(purchase, p_start, cp_start)
    cp_end = np.where(purchase, p_end, cp_start + np.timedelta64(1, "h"))
    pricing = np.where(usage, rng.choice(3, n, p=PRICING_P), -1)
    price = np.array([c[5] for c in CATALOG])[sku]
    qty = np.where(usage, 1.0, np.where(purchase, 720.0, 0.0))
    list_cost = np.round(price * qty, 6)
    spot = rng.uniform(0.30, 0.45, n)
    eff = np.select(
        [pricing == 0, pricing == 1, pricing == 2], [list_cost, list_cost * spot, list_cost * 0.6]
    )
    billed = np.where(pricing == 2, 0.0, eff)
    billed = np.where(purchase, list_cost * 0.6, billed)
    other = rng.uniform(1.0, 500.0, n)
    billed = np.select([cat == 2, cat == 3, cat == 4], [-other, other - 250.0, other / 5], billed)
    eff = np.where(purchase, 0.0, np.where(cat >= 2, billed, eff))
    billed, eff = np.round(billed, 6), np.round(eff, 6)
    list_cost = np.where(cat >= 2, 0.0, list_cost)
    prov = np.array([PROVIDER_NAMES.index(c[0]) for c in CATALOG])[sku]
    region = rng.integers(0, 2, n)
    res_n = sku * RESOURCES_PER_SKU + rng.integers(0, RESOURCES_PER_SKU, n)
    committed = pricing == 2
    unused = committed & (rng.random(n) < 0.1)

    regions = [r for p in PROVIDER_NAMES for r in PROVIDERS[p][2]]
    reg_idx = prov * 2 + region
    res_pool = [
        PROVIDERS[CATALOG[i // RESOURCES_PER_SKU][0]][3].format(
            r=PROVIDERS[CATALOG[i // RESOURCES_PER_SKU][0]][2][0], n=i
        )
        for i in range(len(CATALOG) * RESOURCES_PER_SKU)
    ]
    ts = pa.timestamp("us", tz="UTC")

    def to_ts(a: np.ndarray) -> pa.Array:
        return pa.array(a.astype("datetime64[us]").astype(np.int64), pa.int64()).cast(ts)

    def masked(values: list, idx: np.ndarray, mask: np.ndarray) -> pa.Array:
        return pc.if_else(pa.array(mask), _pick(values, idx), None)

    def money(a: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
        arr = pa.array(a, pa.float64())
        return arr if mask is None else pc.if_else(pa.array(mask), arr, None)

    has_res = cat <= 1
    charge_freq = np.where(usage, 2, np.where(purchase, 1, 0))
    cd_id = [f"commitment-{p.lower()}-2026" for p in PROVIDER_NAMES]
    cols: dict[str, pa.Array] = {
        "AvailabilityZone": masked([r + "-a" for r in regions], reg_idx, usage),
        "BilledCost": money(billed),
        "BillingAccountId": _pick([PROVIDERS[p][1] for p in PROVIDER_NAMES], prov),
        "BillingAccountName": _pick([f"{p} GPU fleet" for p in PROVIDER_NAMES], prov),
        "BillingAccountType": _pick(
            ["Billing Account", "Billing Profile", "Billing Account"], prov
        ),
        "BillingCurrency": pa.array(["USD"] * n),
        "BillingPeriodEnd": to_ts(p_end),
        "BillingPeriodStart": to_ts(p_start),
        "CapacityReservationId": pa.nulls(n, pa.string()),
        "CapacityReservationStatus": pa.nulls(n, pa.string()),
        "ChargeCategory": _pick(CATEGORIES, cat),
        "ChargeClass": masked(["Correction"], np.zeros(n, int), (cat == 3) & (rng.random(n) < 0.5)),
        "ChargeDescription": _pick(
            [f"{c[4]} ({c[6]} x{c[7]}) instance hour" for c in CATALOG], sku
        ),
        "ChargeFrequency": _pick(["One-Time", "Recurring", "Usage-Based"], charge_freq),
        "ChargePeriodEnd": to_ts(cp_end),
        "ChargePeriodStart": to_ts(cp_start),
        "CommitmentDiscountCategory": masked(["Usage"], np.zeros(n, int), committed),
        "CommitmentDiscountId": masked(cd_id, prov, committed | purchase),
        "CommitmentDiscountName": masked(
            [f"GPU commitment {p}" for p in PROVIDER_NAMES], prov, committed | purchase
        ),
        "CommitmentDiscountQuantity": money(np.ones(n), committed),
        "CommitmentDiscountStatus": masked(["Used", "Unused"], unused.astype(int), committed),
        "CommitmentDiscountType": masked(
            ["Reserved Instance", "Reservation", "Committed Use Discount"],
            prov,
            committed | purchase,
        ),
        "CommitmentDiscountUnit": masked(["Hours"], np.zeros(n, int), committed),
        "ConsumedQuantity": money(qty, usage),
        "ConsumedUnit": masked(["Hours"], np.zeros(n, int), usage),
        "ContractedCost": money(list_cost),
        "ContractedUnitPrice": money(price, has_res),
        "EffectiveCost": money(eff),
        "InvoiceId": _pick(
            [f"INV-{p[:3].upper()}-{k:03d}" for p in PROVIDER_NAMES for k in range(periods)],
            prov * periods + period,
        ),
        "InvoiceIssuerName": _pick([PROVIDERS[p][0] for p in PROVIDER_NAMES], prov),
        "ListCost": money(list_cost),
        "ListUnitPrice": money(price, has_res),
        "PricingCategory": masked(PRICING, np.maximum(pricing, 0), usage),
        "PricingCurrency": pa.array(["USD"] * n),
        "PricingCurrencyContractedUnitPrice": money(price, has_res),
        "PricingCurrencyEffectiveCost": money(eff),
        "PricingCurrencyListUnitPrice": money(price, has_res),
        "PricingQuantity": money(qty, has_res),
        "PricingUnit": masked(["Hours"], np.zeros(n, int), has_res),
        "ProviderName": _pick(PROVIDER_NAMES, prov),
        "PublisherName": _pick([PROVIDERS[p][0] for p in PROVIDER_NAMES], prov),
        "RegionId": masked(regions, reg_idx, has_res),
        "RegionName": masked(regions, reg_idx, has_res),
        "ResourceId": masked(res_pool, res_n, has_res),
        "ResourceName": masked([f"gpu-node-{i:04d}" for i in range(len(res_pool))], res_n, has_res),
        "ResourceType": masked(["Virtual Machine"], np.zeros(n, int), has_res),
        "ServiceCategory": _pick([c[2] for c in CATALOG], sku),
        "ServiceName": _pick([c[1] for c in CATALOG], sku),
        "ServiceSubcategory": _pick([c[3] for c in CATALOG], sku),
        "SkuId": _pick([c[4] for c in CATALOG], sku),
        "SkuMeter": masked(["GPU Instance Hours"], np.zeros(n, int), has_res),
        "SkuPriceDetails": masked(
            [f'{{"GpuCount": {c[7]}, "GpuType": "{c[6]}"}}' for c in CATALOG], sku, has_res
        ),
        "SkuPriceId": masked([f"{c[4]}.{c[0].lower()}.ondemand" for c in CATALOG], sku, has_res),
        "SubAccountId": _pick([f"{p.lower()}-inference" for p in PROVIDER_NAMES], prov),
        "SubAccountName": _pick(["inference", "inference", "inference"], prov),
        "SubAccountType": _pick(["Account", "Subscription", "Project"], prov),
        "Tags": _pick(TAGS, rng.integers(0, len(TAGS), n)),
        "x_GpuType": masked([c[6] for c in CATALOG], sku, has_res),
        "x_GpuCount": masked([str(c[7]) for c in CATALOG], sku, has_res),
    }
    # FOCUS 1.3+ provider columns (1.4 dropped ProviderName/PublisherName); no split-cost
    # allocation, contract or invoice-detail data in these synthetic bills.
    cols["ServiceProviderName"] = cols["HostProviderName"] = cols["ProviderName"]
    for name in (
        "AllocatedMethodDetails",
        "AllocatedMethodId",
        "AllocatedResourceId",
        "AllocatedResourceName",
        "AllocatedTags",
        "ContractApplied",
        "CommitmentProgramEligibilityDetails",
        "InvoiceDetailId",
    ):
        cols[name] = pa.nulls(n, pa.string())
    return cols


def write_focus_file(
    path: str | Path,
    *,
    version: str = "1.2",
    rows: int = 10_000,
    seed: int = 0,
    fmt: str | None = None,
    periods: int = 1,
    start: str = "2026-01-01",
    batch_rows: int = 100_000,
    extensions: bool = True,
) -> GeneratedFocusFile:
    """Write ``rows`` synthetic FOCUS ``version`` rows over ``periods`` monthly billing
    periods from ``start`` to ``path`` as ``fmt`` (default: from the suffix).

    CSV 1.0 files write nulls as the literal ``NULL`` and date-times as
    ``YYYY-MM-DD HH:MM:SS`` (like the FOCUS sample); CSV 1.1/1.2 use empty fields and
    ISO 8601 with ``Z``. Parquet stores float64 and ``timestamp[us, UTC]``.
    ``extensions`` adds provider columns ``x_GpuType`` and ``x_GpuCount``.
    """
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}")
    if rows < 1 or periods < 1:
        raise ValueError("rows and periods must be at least 1")
    out = Path(path)
    fmt = _fmt_for(out, fmt)
    names = [c.name for c in columns_for(version)]
    if extensions:
        names += ["x_GpuType", "x_GpuCount"]
    begin = np.datetime64(start, "M")
    result = GeneratedFocusFile(out, version, fmt, rows)
    result.billing_periods = [str((begin + k).astype("datetime64[D]")) for k in range(periods)]
    billed_sums: list[float] = []
    eff_sums: list[float] = []
    writer: pq.ParquetWriter | pcsv.CSVWriter | None = None
    sink = pa.CompressedOutputStream(str(out), "gzip") if fmt == "csv.gz" else None
    try:
        for b, first in enumerate(range(0, rows, batch_rows)):
            n = min(batch_rows, rows - first)
            rng = np.random.default_rng([seed, b])
            cols = _batch(rng, first, n, rows, periods, begin)
            billed_sums.append(math.fsum(cols["BilledCost"].to_numpy(zero_copy_only=False)))
            eff_sums.append(math.fsum(cols["EffectiveCost"].to_numpy(zero_copy_only=False)))
            if fmt == "parquet":
                table = pa.table({k: cols[k] for k in names})
                if writer is None:
                    writer = pq.ParquetWriter(str(out), table.schema)
                writer.write_table(table)
                continue
            table = pa.table({k: _csv_text(cols[k], version) for k in names})
            if writer is None:
                writer = pcsv.CSVWriter(sink if sink is not None else str(out), table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
        if sink is not None:
            sink.close()
    result.billed_cost_total = math.fsum(billed_sums)
    result.effective_cost_total = math.fsum(eff_sums)
    return result


def _csv_text(arr: pa.Array, version: str) -> pa.Array:
    if pa.types.is_timestamp(arr.type):
        fmt = "%Y-%m-%d %H:%M:%S" if version == "1.0" else "%Y-%m-%dT%H:%M:%SZ"
        arr = pc.strftime(arr.cast(pa.timestamp("s", tz="UTC")), fmt)
    elif not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return pc.fill_null(arr, "NULL") if version == "1.0" else arr
