"""Google Cloud Billing Catalog SKUs -> per-machine-type GPU VM prices for the price catalog.

Compute Engine prices accelerator-optimised VMs by component: each GPU, each vCPU and each
GiB of memory of the machine family have their own SKU per region and usage type
(``OnDemand``, ``Preemptible`` = spot, ``Commit1Yr`` / ``Commit3Yr`` = committed use). A
machine type's price is therefore::

    gpu_count × GPU price + vcpu × core price + memory_gib × RAM price     (USD per hour)

SKUs are recognised from their description: the GPU model (e.g. ``Nvidia Tesla A100 GPU``,
``Nvidia H100 80GB GPU``, ``Nvidia L4 GPU``) and ``<FAMILY> Instance Core`` / ``<FAMILY>
Instance Ram`` (``Commitment v1: <FAMILY> Cpu`` / ``Ram`` for commitments). A price is only
produced when every component of the machine is found; what is missing is reported.
Unit prices are ``units + nanos / 1e9`` of the highest tier, per ``h`` (GPU, core) or
``GiBy.h`` (memory).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import GcpClient

SOURCE = "gcp_cloud_billing_catalog"
GPU_PATTERNS: dict[str, str] = {
    "a100": r"\bA100(?! 80GB)\b",
    "a100-80gb": r"\bA100 80GB\b",
    "h100-80gb": r"\bH100 80GB\b(?! Mega)",
    "h100-80gb-mega": r"\bH100 80GB Mega\b",
    "l4": r"\bL4\b",
    "rtx6000": r"\bRTX PRO 6000\b",
    "t4": r"\bT4\b",
    "v100": r"\bV100\b",
}
USAGE_FIELDS = {
    "OnDemand": "ondemand_usd_per_hour",
    "Preemptible": "spot_usd_per_hour",
    "Commit1Yr": "commit_1y_usd_per_hour",
    "Commit3Yr": "commit_3y_usd_per_hour",
}


@dataclass(frozen=True)
class MachineShape:
    machine_type: str
    gpu_type: str
    gpu_count: float
    vcpu: float
    memory_gib: float
    region: str

    @property
    def family(self) -> str:
        return self.machine_type.split("-")[0].upper()


def machine_shapes(csv_path: str | Path) -> list[MachineShape]:
    """Machine shapes (GPU type/count, vCPUs, memory, region) from the seed price CSV."""
    import pandas as pd

    df = pd.read_csv(csv_path)
    return [
        MachineShape(
            str(r["machine_type"]),
            str(r["gpu_type"]),
            float(r["gpu_count"]),
            float(r["vcpu"]),
            float(r["memory_gib"]),
            str(r["region"]),
        )
        for r in df.to_dict("records")
    ]


def unit_price(sku: dict[str, Any]) -> float | None:
    """USD per usage unit of the SKU's current price (highest tier)."""
    infos = sku.get("pricing_info") or sku.get("pricingInfo") or []
    if not infos:
        return None
    expr = infos[-1].get("pricing_expression") or infos[-1].get("pricingExpression") or {}
    tiers = expr.get("tiered_rates") or expr.get("tieredRates") or []
    if not tiers:
        return None
    money = tiers[-1].get("unit_price") or tiers[-1].get("unitPrice") or {}
    return float(money.get("units") or 0) + float(money.get("nanos") or 0) / 1e9


def component(sku: dict[str, Any]) -> tuple[str, str] | None:
    """(``gpu``/``core``/``ram``, gpu type or machine family) of a Compute Engine SKU, or None."""
    desc = sku.get("description", "")
    if re.search(r"\bGPU\b", desc):
        for gpu_type, pattern in sorted(GPU_PATTERNS.items(), key=lambda kv: -len(kv[0])):
            if re.search(pattern, desc):
                return "gpu", gpu_type
        return None
    m = re.search(r"\b([A-Z]\d)\s+(?:Instance\s+)?(Core|Cpu|Ram)\b", desc)
    if m:
        return ("ram" if m.group(2) == "Ram" else "core"), m.group(1)
    return None


def component_prices(skus: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str, str], float]:
    """(kind, gpu type / family, usage type, region) -> USD per unit-hour."""
    out: dict[tuple[str, str, str, str], float] = {}
    for sku in skus:
        cat = sku.get("category") or {}
        usage = cat.get("usage_type") or cat.get("usageType")
        if usage not in USAGE_FIELDS:
            continue
        comp = component(sku)
        price = unit_price(sku)
        if comp is None or price is None:
            continue
        for region in sku.get("service_regions") or sku.get("serviceRegions") or []:
            out[(comp[0], comp[1], usage, region)] = price
    return out


def machine_prices(
    shapes: Iterable[MachineShape], prices: dict[tuple[str, str, str, str], float]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows for ``PriceCatalog.update_prices`` and notes about machines left unpriced."""
    rows, notes = [], []
    for m in shapes:
        row: dict[str, Any] = {
            "provider": "gcp",
            "instance_type": m.machine_type,
            "region": m.region,
        }
        for usage, fld in USAGE_FIELDS.items():
            parts = {
                "gpu": prices.get(("gpu", m.gpu_type, usage, m.region)),
                "core": prices.get(("core", m.family, usage, m.region)),
                "ram": prices.get(("ram", m.family, usage, m.region)),
            }
            absent = [k for k, v in parts.items() if v is None]
            if absent:
                notes.append(
                    f"{m.machine_type} in {m.region}: no {usage} SKU for {', '.join(absent)}"
                )
                continue
            gpu, core, ram = (float(parts[k] or 0.0) for k in ("gpu", "core", "ram"))
            row[fld] = round(m.gpu_count * gpu + m.vcpu * core + m.memory_gib * ram, 6)
        if len(row) > 3:
            rows.append(row)
    return rows, notes


def fetch_gcp_prices(
    client: GcpClient, shapes: list[MachineShape]
) -> tuple[list[dict[str, Any]], list[str]]:
    """List every Compute Engine SKU (all pages) and price each machine shape."""
    prices: dict[tuple[str, str, str, str], float] = {}
    for page in client.sku_pages():
        prices.update(component_prices(page))
    return machine_prices(shapes, prices)
