"""GPU price catalog: on-demand, spot and 1-/3-year commitment prices per offer.

One :class:`InstanceOffer` per (provider, instance type, region), seeded from the small
CSV copies in ``costmodels/data`` (see ``costmodels/data/README.md`` for provenance and
licences) and refreshed by the connectors through :meth:`PriceCatalog.update_prices`.

All prices are USD per instance-hour (not per GPU-hour). ``gpu_memory_gib`` is the memory
of *one* GPU device as the instance sees it (a fractional-GPU VM sees its slice).

Where a cloud publishes no price in the seed data, the catalog derives one from a
documented assumption and says so in ``*_price_source`` -- it never fills a gap silently:

* AWS commitments (Savings Plans / RIs, not in the seed data): 1y = on-demand x
  ``ASSUMED_COMMIT_FACTORS['aws']['1y']``, 3y likewise (typical no-upfront GPU discounts).
* Azure commitments (reservations) and Azure spot (no open spot table): same idea.
* GCP rows missing a CUD price: the median CUD/on-demand ratio of the same GPU family.
* AWS spot is the Spot Advisor *estimate* from the seed (on-demand x (1 - savings)).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"
PROVIDERS = ("aws", "azure", "gcp")

#: Assumed commitment price as a fraction of on-demand, where the seed data has none.
ASSUMED_COMMIT_FACTORS: dict[str, dict[str, float]] = {
    "aws": {"1y": 0.64, "3y": 0.45},  # EC2 Instance Savings Plan, no upfront, GPU families
    "azure": {"1y": 0.62, "3y": 0.42},  # Azure reserved VM instances, GPU series
}
#: Assumed Azure spot price as a fraction of pay-as-you-go (typical 60-70 % discount).
ASSUMED_AZURE_SPOT_FACTOR = 0.35
#: Monthly interruption frequency per Spot Advisor bucket (mid-point of each range, >20 % -> 25 %).
BUCKET_MONTHLY_INTERRUPTION = {0: 0.025, 1: 0.075, 2: 0.125, 3: 0.175, 4: 0.25}
#: Bucket assumed when the provider publishes none (GCP, Azure): 10-15 %.
ASSUMED_SPOT_BUCKET = 2
HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class MigProfile:
    """A Multi-Instance GPU slice: ``compute_sevenths`` of the GPU's 7 compute slices."""

    name: str
    compute_sevenths: int
    memory_gib: float
    max_instances: int

    @property
    def gpu_fraction(self) -> float:
        """Share of one GPU's compute (and of its price) this slice uses."""
        return self.compute_sevenths / 7.0


def _mig(*rows: tuple[str, int, float, int]) -> tuple[MigProfile, ...]:
    return tuple(MigProfile(*r) for r in rows)


# NVIDIA MIG user guide, "Supported MIG profiles" tables.
MIG_PROFILES: dict[str, tuple[MigProfile, ...]] = {
    "A100-40": _mig(
        ("1g.5gb", 1, 5, 7), ("2g.10gb", 2, 10, 3), ("3g.20gb", 3, 20, 2),
        ("4g.20gb", 4, 20, 1), ("7g.40gb", 7, 40, 1),
    ),
    "A100-80": _mig(
        ("1g.10gb", 1, 10, 7), ("2g.20gb", 2, 20, 3), ("3g.40gb", 3, 40, 2),
        ("4g.40gb", 4, 40, 1), ("7g.80gb", 7, 80, 1),
    ),
    "H100": _mig(
        ("1g.10gb", 1, 10, 7), ("1g.20gb", 1, 20, 4), ("2g.20gb", 2, 20, 3),
        ("3g.40gb", 3, 40, 2), ("4g.40gb", 4, 40, 1), ("7g.80gb", 7, 80, 1),
    ),
    "H200": _mig(
        ("1g.18gb", 1, 18, 7), ("1g.35gb", 1, 35, 4), ("2g.35gb", 2, 35, 3),
        ("3g.71gb", 3, 71, 2), ("4g.71gb", 4, 71, 1), ("7g.141gb", 7, 141, 1),
    ),
}  # fmt: skip


def mig_profiles_for(gpu_model: str, gpu_memory_gib: float) -> tuple[MigProfile, ...]:
    """MIG profiles a GPU supports (empty for GPUs without MIG, e.g. T4, L4, A10G)."""
    m = gpu_model.upper()
    if "H200" in m:
        return MIG_PROFILES["H200"]
    if "H100" in m and gpu_memory_gib <= 96:
        return MIG_PROFILES["H100"]
    if "A100" in m:
        return MIG_PROFILES["A100-80" if gpu_memory_gib >= 60 else "A100-40"]
    return ()


@dataclass(frozen=True)
class InstanceOffer:
    """One GPU instance type in one region of one provider. Prices in USD per instance-hour."""

    provider: str
    instance_type: str
    region: str
    gpu_model: str
    gpu_count: float
    gpu_memory_gib: float
    ondemand_usd_per_hour: float
    spot_usd_per_hour: float | None
    commit_1y_usd_per_hour: float | None
    commit_3y_usd_per_hour: float | None
    spot_interruption_bucket: int | None
    mig_profiles: tuple[MigProfile, ...] = ()
    ondemand_price_source: str = "list"
    spot_price_source: str | None = None
    commit_price_source: str | None = None

    @property
    def price_source(self) -> dict[str, str | None]:
        """Where each price came from; values starting ``assumed_`` are derived assumptions."""
        return {
            "ondemand": self.ondemand_price_source,
            "spot": self.spot_price_source,
            "commit": self.commit_price_source,
        }

    @property
    def total_gpu_memory_gib(self) -> float:
        return self.gpu_memory_gib * max(self.gpu_count, 1.0)

    def commit_usd_per_hour(self, term: str = "1y") -> float | None:
        """Commitment price for ``term`` ('1y' or '3y')."""
        if term not in ("1y", "3y"):
            raise ValueError(f"commitment term must be '1y' or '3y', got {term!r}")
        return self.commit_1y_usd_per_hour if term == "1y" else self.commit_3y_usd_per_hour

    def mig_slice(self, profile: str) -> InstanceOffer:
        """This offer seen as one MIG slice: ``gpu_count`` = the slice's share of one GPU,
        memory = the slice's, every price = that share of one GPU's price (the other slices
        are assumed used by other workloads; flagged ``derived_mig_share``)."""
        mig = next((m for m in self.mig_profiles if m.name == profile), None)
        if mig is None:
            names = [m.name for m in self.mig_profiles] or "none (this GPU has no MIG)"
            raise ValueError(f"{self.instance_type}: no MIG profile {profile!r}; profiles: {names}")
        share = mig.gpu_fraction / max(self.gpu_count, 1.0)

        def part(price: float | None) -> float | None:
            return None if price is None else round(price * share, 6)

        return dataclasses.replace(
            self, instance_type=f"{self.instance_type}:{profile}", gpu_count=mig.gpu_fraction,
            gpu_memory_gib=mig.memory_gib, ondemand_usd_per_hour=float(part(self.ondemand_usd_per_hour) or 0.0),
            spot_usd_per_hour=part(self.spot_usd_per_hour), commit_1y_usd_per_hour=part(self.commit_1y_usd_per_hour),
            commit_3y_usd_per_hour=part(self.commit_3y_usd_per_hour), mig_profiles=(),
            ondemand_price_source="derived_mig_share",
        )  # fmt: skip

    def spot_interruption_rate_per_hour(self) -> float:
        """Per-instance interruption hazard (1/h) from the bucket's monthly frequency.

        A monthly frequency f becomes a constant hazard -ln(1 - f) / 730 h. Offers without
        a bucket (GCP, Azure) use :data:`ASSUMED_SPOT_BUCKET`.
        """
        bucket = self.spot_interruption_bucket
        f = BUCKET_MONTHLY_INTERRUPTION[ASSUMED_SPOT_BUCKET if bucket is None else bucket]
        return -math.log1p(-f) / HOURS_PER_MONTH


def _num(v: object) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
        return None
    return float(v)  # type: ignore[arg-type]


def _positive(value: float | None, where: str) -> float | None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: price must be a finite number >= 0, got {value!r}")
    return value


class PriceCatalog:
    """An in-memory catalog of :class:`InstanceOffer`, keyed by (provider, type, region)."""

    def __init__(self, offers: Iterable[InstanceOffer]):
        self._offers: dict[tuple[str, str, str], InstanceOffer] = {}
        for o in offers:
            self._offers[(o.provider, o.instance_type, o.region)] = o

    def __len__(self) -> int:
        return len(self._offers)

    @classmethod
    def load_default(cls, data_dir: Path | str | None = None) -> PriceCatalog:
        """Load the seed catalog from ``costmodels/data`` (or ``data_dir`` with the same files)."""
        d = Path(data_dir) if data_dir is not None else DATA_DIR
        offers = _load_aws(d) + _load_gcp(d) + _load_azure(d)
        return cls(offers)

    def offer(self, provider: str, instance_type: str, region: str) -> InstanceOffer:
        try:
            return self._offers[(provider.lower(), instance_type, region)]
        except KeyError:
            known = sorted({r for (p, t, r) in self._offers if t == instance_type})
            hint = f"; {instance_type} is offered in {known}" if known else ""
            raise KeyError(f"no {provider} offer for {instance_type} in {region}{hint}") from None

    def offers(
        self, provider: str | None = None, region: str | None = None, gpu_model: str | None = None
    ) -> list[InstanceOffer]:
        """Offers matching all given filters; ``gpu_model`` matches case-insensitively as a substring."""
        g = gpu_model.lower() if gpu_model else None
        return [
            o
            for o in self._offers.values()
            if (provider is None or o.provider == provider.lower())
            and (region is None or o.region == region)
            and (g is None or g in o.gpu_model.lower())
        ]

    def update_prices(
        self, updates: pd.DataFrame | Iterable[Mapping[str, object]], source: str
    ) -> PriceUpdateReport:
        """Replace prices from a connector (e.g. EC2 spot price history, GCP SKUs).

        ``updates`` rows need ``provider``, ``instance_type``, ``region`` and any of
        ``ondemand_usd_per_hour``, ``spot_usd_per_hour``, ``commit_1y_usd_per_hour``,
        ``commit_3y_usd_per_hour``, ``spot_interruption_bucket``. ``source`` is recorded as the
        price source of each field updated. All rows are validated before any is applied.
        Rows for offers not in the catalog are returned in ``unknown``, not added.
        """
        df = pd.DataFrame(list(updates)) if not isinstance(updates, pd.DataFrame) else updates
        missing = {"provider", "instance_type", "region"} - set(df.columns)
        if missing:
            raise ValueError(f"price updates: missing column(s) {sorted(missing)}")
        fields = [c for c in _PRICE_FIELDS if c in df.columns]
        staged: dict[tuple[str, str, str], InstanceOffer] = {}
        unknown: list[tuple[str, str, str]] = []
        for i, row in enumerate(df.to_dict("records")):
            key = (str(row["provider"]).lower(), str(row["instance_type"]), str(row["region"]))
            current = staged.get(key) or self._offers.get(key)
            if current is None:
                unknown.append(key)
                continue
            changes: dict[str, object] = {}
            for f in fields:
                v = _num(row[f])
                if v is None:
                    continue
                if f == "spot_interruption_bucket":
                    if v not in BUCKET_MONTHLY_INTERRUPTION:
                        raise ValueError(f"price updates row {i}, column {f}: bucket must be 0-4")
                    changes[f] = int(v)
                    continue
                changes[f] = _positive(v, f"price updates row {i}, column {f}")
                src_field = {"ondemand": "ondemand_price_source", "spot": "spot_price_source"}
                changes[src_field.get(f.split("_")[0], "commit_price_source")] = source
            staged[key] = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
        self._offers.update(staged)
        return PriceUpdateReport(updated=len(staged), unknown=tuple(unknown))


_PRICE_FIELDS = (
    "ondemand_usd_per_hour",
    "spot_usd_per_hour",
    "commit_1y_usd_per_hour",
    "commit_3y_usd_per_hour",
    "spot_interruption_bucket",
)


@dataclass(frozen=True)
class PriceUpdateReport:
    updated: int
    unknown: tuple[tuple[str, str, str], ...]


def _records(df: pd.DataFrame) -> list[Any]:
    """Rows as attribute records (CSV values are untyped until converted)."""
    return [SimpleNamespace(**{str(k): v for k, v in rec.items()}) for rec in df.to_dict("records")]


def _read(d: Path, name: str) -> pd.DataFrame:
    path = d / name
    if not path.exists():
        raise FileNotFoundError(f"price catalog seed {path} is missing; restore costmodels/data")
    return pd.read_csv(path)


def _assumed_commit(provider: str, od: float) -> tuple[float, float]:
    f = ASSUMED_COMMIT_FACTORS[provider]
    return round(od * f["1y"], 6), round(od * f["3y"], 6)


def _load_aws(d: Path) -> list[InstanceOffer]:
    df = _read(d, "aws_gpu_instances.csv")
    out = []
    for r in _records(df):
        count = float(r.gpu_count)
        c1, c3 = _assumed_commit("aws", float(r.ondemand_usd_per_hour))
        spot = _num(r.spot_avg_usd_per_hour)
        bucket = _num(r.spot_interruption_bucket)
        per_gpu = float(r.gpu_memory_gib) / max(count, 1.0)
        out.append(
            InstanceOffer(
                "aws",
                r.instance_type,
                r.region,
                r.gpu_model,
                count,
                per_gpu,
                float(r.ondemand_usd_per_hour),
                spot,
                c1,
                c3,
                None if bucket is None else int(bucket),
                mig_profiles_for(r.gpu_model, per_gpu),
                spot_price_source="estimate_from_spot_advisor_savings"
                if spot is not None
                else None,
                commit_price_source="assumed_aws_savings_plan_factor",
            )
        )
    return out


def _load_gcp(d: Path) -> list[InstanceOffer]:
    df = _read(d, "gcp_gpu_prices.csv")
    ratio1 = (df.cud_1y_usd_per_hour / df.ondemand_usd_per_hour).groupby(df.gpu_type).median()
    ratio3 = (df.cud_3y_usd_per_hour / df.ondemand_usd_per_hour).groupby(df.gpu_type).median()
    out = []
    for r in _records(df):
        od = float(r.ondemand_usd_per_hour)
        c1, c3 = _num(r.cud_1y_usd_per_hour), _num(r.cud_3y_usd_per_hour)
        src = "list_cud"
        if c1 is None or c3 is None:
            src = "assumed_gcp_family_median_cud_ratio"
            c1 = c1 if c1 is not None else round(od * float(ratio1.get(r.gpu_type, np.nan)), 6)
            c3 = c3 if c3 is not None else round(od * float(ratio3.get(r.gpu_type, np.nan)), 6)
            c1 = None if math.isnan(c1) else c1
            c3 = None if math.isnan(c3) else c3
        mem = float(r.gpu_memory_gib_per_gpu)
        out.append(
            InstanceOffer(
                "gcp",
                r.machine_type,
                r.region,
                r.gpu_model,
                float(r.gpu_count),
                mem,
                od,
                _num(r.spot_usd_per_hour),
                c1,
                c3,
                None,
                mig_profiles_for(r.gpu_model, mem),
                spot_price_source="list_spot_price",
                commit_price_source=src,
            )
        )
    return out


def _load_azure(d: Path) -> list[InstanceOffer]:
    """Azure rows without a documented GPU count are skipped (their capacity is unknown)."""
    df = _read(d, "azure_gpu_vms.csv")
    df = df[df.gpu_count.notna() & df.gpu_model.notna()]
    out = []
    for r in _records(df):
        count = float(r.gpu_count)
        mem = float(r.accelerator_memory_gb_doc)
        # The NDm_A100_v4 page documents per-GPU memory; every other page the VM total.
        per_gpu = mem if "ND96amsr_A100" in r.sku_name else mem / max(count, 1.0)
        od = float(r.ondemand_usd_per_hour)
        c1, c3 = _assumed_commit("azure", od)
        out.append(
            InstanceOffer(
                "azure",
                r.sku_name,
                r.region,
                r.gpu_model,
                count,
                per_gpu,
                od,
                round(od * ASSUMED_AZURE_SPOT_FACTOR, 6),
                c1,
                c3,
                None,
                mig_profiles_for(r.gpu_model, per_gpu),
                spot_price_source="assumed_azure_spot_factor",
                commit_price_source="assumed_azure_reservation_factor",
            )
        )
    return out
