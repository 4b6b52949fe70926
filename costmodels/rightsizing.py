"""Right-sizing: the cheapest GPU type, MIG slice and replica bounds that fit observed usage.

From a deployment's usage samples (one row per minute) over a lookback window (default
14 days; refused below 30 hours of data) we take percentiles of request rate, GPU memory
and latency, fit the per-request GPU time on the current GPU
(:meth:`CapacityModel.fit`), and then, for every offer in the same provider and region
(and every MIG slice of MIG-capable GPUs), size replicas for the p95 request rate plus
``headroom``, check the model fits in memory with headroom and the p95 latency meets the
SLO, and estimate the monthly cost. Assumptions: throughput scales with
:data:`costmodels.capacity.GPU_SPEED` between GPU types; a MIG slice delivers its share of
compute sevenths and is billed that share of one GPU's price (the other slices are used
by other workloads).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from costmodels.capacity import CapacityModel, gpu_speed_factor
from costmodels.catalog import HOURS_PER_MONTH, InstanceOffer, PriceCatalog
from costmodels.errors import RightsizingRefused
from costmodels.results import RightsizingRecommendation

MIN_EVIDENCE_HOURS = 30.0
REQUIRED = ("request_rate_rps", "gpu_util_pct", "gpu_memory_used_gib")


def _evidence(samples: pd.DataFrame, lookback_days: float) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in samples.columns]
    if missing:
        raise ValueError(
            f"usage samples: missing column(s) {missing}; expected {REQUIRED} per minute"
        )
    if isinstance(samples.index, pd.DatetimeIndex):
        ts = samples.index
    elif "timestamp" in samples.columns:
        ts = pd.DatetimeIndex(pd.to_datetime(samples["timestamp"], utc=True))
    else:
        raise ValueError("usage samples: need a DatetimeIndex or a 'timestamp' column")
    df = samples.set_axis(ts).sort_index()
    for col in REQUIRED:
        vals = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(vals) | (vals < 0))
        if bad.size:
            raise ValueError(
                f"usage samples row {bad[0]} ({df.index[bad[0]]}), column {col!r}: not a number >= 0"
            )
    if len(df) == 0:
        return df
    return df[df.index > df.index[-1] - pd.Timedelta(days=lookback_days)]


def _candidates(catalog: PriceCatalog, current: InstanceOffer, same_region: bool):
    offers = catalog.offers(
        provider=current.provider, region=current.region if same_region else None
    )
    for o in offers:
        try:
            gpu_speed_factor(o.gpu_model)
        except ValueError:
            continue
        yield o, None, float(o.gpu_count), o.gpu_memory_gib, o.ondemand_usd_per_hour
        if o.gpu_count >= 1:
            for mig in o.mig_profiles:
                part = o.mig_slice(mig.name)  # the one MIG slice pricing
                yield o, mig.name, part.gpu_count, part.gpu_memory_gib, part.ondemand_usd_per_hour


def recommend_rightsizing(
    samples: pd.DataFrame,
    *,
    current_offer: InstanceOffer,
    capacity: CapacityModel,
    catalog: PriceCatalog,
    slo_p95_ms: float,
    lookback_days: float = 14.0,
    headroom: float = 0.2,
    same_region: bool = True,
    raise_on_refusal: bool = False,
) -> RightsizingRecommendation:
    """Recommend GPU type / MIG profile / replica bounds for one deployment.

    ``samples``: one row per minute with ``request_rate_rps`` (whole deployment),
    ``gpu_util_pct`` (0-100), ``gpu_memory_used_gib`` (per GPU), optionally
    ``replicas`` and ``p95_latency_ms``; a DatetimeIndex or a ``timestamp`` column.
    ``capacity``: the service's model on the current GPU (its parameters are reused; the
    per-request time is refitted from the samples when they allow). ``headroom``: spare
    share kept above p95 demand and memory. Below 30 hours of evidence the result is a
    refusal (``refused=True`` with the reason) or, with ``raise_on_refusal``, an exception.
    """
    if not 0 <= headroom < 1:
        raise ValueError(f"headroom must be in [0, 1), got {headroom!r}")
    df = _evidence(samples, lookback_days)
    hours = len(df) / 60.0
    window = (df.index[0].isoformat(), df.index[-1].isoformat()) if len(df) else ("", "")
    reps = df["replicas"].to_numpy(float) if "replicas" in df else np.ones(len(df))
    current_monthly = (
        float(np.mean(reps)) * current_offer.ondemand_usd_per_hour * HOURS_PER_MONTH
        if len(df)
        else 0.0
    )
    base: dict[str, Any] = dict(
        current_instance_type=current_offer.instance_type,
        evidence_window=window,
        evidence_hours=round(hours, 2),
        current_monthly_cost_usd=round(current_monthly, 2),
    )
    if hours < MIN_EVIDENCE_HOURS:
        reason = (
            f"only {hours:.2f} hours of usage samples in the {lookback_days:g}-day lookback; "
            f"right-sizing needs at least {MIN_EVIDENCE_HOURS:g} hours"
        )
        if raise_on_refusal:
            raise RightsizingRefused(reason)
        return _refusal(reason, base)
    rate = df["request_rate_rps"].to_numpy(float)
    pct = _usage_percentiles(df, rate)
    fitted = _fit_current_capacity(capacity, current_offer, df.assign(replicas=reps))
    need_mem = pct["gpu_memory_used_gib_p95"] * (1 + headroom)
    best = _cheapest_fit(
        fitted, catalog, current_offer, same_region, rate, pct, need_mem, headroom, slo_p95_ms
    )
    if best is None:
        return _refusal(
            f"no {current_offer.provider} offer in {current_offer.region} fits {need_mem:.1f} GiB "
            f"per GPU and meets the {slo_p95_ms:.0f} ms p95 SLO at the p95 request rate",
            base,
            pct,
        )
    evidence_share = min(1.0, hours / (lookback_days * 24.0))
    return _recommendation(
        best,
        current_offer,
        current_monthly,
        fitted,
        pct,
        base,
        need_mem,
        headroom,
        slo_p95_ms,
        evidence_share,
    )


def _usage_percentiles(df: pd.DataFrame, rate: np.ndarray) -> dict[str, float]:
    """The evidence window's demand and GPU percentiles the recommendation is sized on."""
    mem = df["gpu_memory_used_gib"].to_numpy(float)
    pct = {
        "request_rate_rps_p50": float(np.percentile(rate, 50)),
        "request_rate_rps_p95": float(np.percentile(rate, 95)),
        "request_rate_rps_max": float(rate.max()),
        "gpu_util_pct_p95": float(np.percentile(df["gpu_util_pct"], 95)),
        "gpu_memory_used_gib_p95": float(np.percentile(mem, 95)),
    }
    if "p95_latency_ms" in df:
        pct["p95_latency_ms_p95"] = float(
            np.nanpercentile(df["p95_latency_ms"].to_numpy(float), 95)
        )
    return pct


def _fit_current_capacity(
    capacity: CapacityModel, current_offer: InstanceOffer, df: pd.DataFrame
) -> CapacityModel:
    """The service's capacity model on the current GPU, refitted from the samples when they
    allow (else its documented defaults, which lowers the confidence)."""
    fitted = clone(capacity).set_params(
        gpu_model=current_offer.gpu_model, gpu_count=max(current_offer.gpu_count, 1e-9)
    )
    try:
        fitted.fit(df)
    except ValueError:
        fitted.fit()  # too few informative rows: documented defaults, lower confidence
    return fitted


def _cheapest_fit(
    fitted: CapacityModel,
    catalog: PriceCatalog,
    current_offer: InstanceOffer,
    same_region: bool,
    rate: np.ndarray,
    pct: dict[str, float],
    need_mem: float,
    headroom: float,
    slo_p95_ms: float,
) -> tuple[float, InstanceOffer, str | None, int, int] | None:
    """(monthly USD, offer, MIG profile, min replicas, max replicas) of the cheapest candidate
    that holds ``need_mem`` GiB per GPU and meets the SLO at the p95 rate; None if none does."""
    t1_ref = fitted.service_time_ms_ * gpu_speed_factor(current_offer.gpu_model)
    demand = rate * (1 - fitted.cache_hit_rate) * (1 + headroom)
    best = None
    for offer, mig, gpus, mem_gib, price in _candidates(catalog, current_offer, same_region):
        if mem_gib < need_mem:
            continue
        cand = (
            clone(fitted)
            .set_params(service_time_ms=t1_ref, gpu_model=offer.gpu_model, gpu_count=gpus)
            .fit()
        )
        mu = cand.throughput_rps_
        need = np.clip(np.ceil(demand / mu - 1e-9), 1, None)
        lo, hi = int(max(1, np.percentile(need, 5))), int(need.max()) + 1
        r95 = int(np.ceil(pct["request_rate_rps_p95"] * (1 + headroom) / mu - 1e-9)) or 1
        if (
            cand.p95_latency_ms(np.array([pct["request_rate_rps_p95"]]), np.array([r95]))[0]
            > slo_p95_ms
        ):
            continue
        monthly = float(np.mean(need)) * price * HOURS_PER_MONTH
        if best is None or monthly < best[0] - 1e-9:
            best = (monthly, offer, mig, lo, hi)
    return best


def _recommendation(
    best: tuple[float, InstanceOffer, str | None, int, int],
    current_offer: InstanceOffer,
    current_monthly: float,
    fitted: CapacityModel,
    pct: dict[str, float],
    base: dict[str, Any],
    need_mem: float,
    headroom: float,
    slo_p95_ms: float,
    evidence_share: float,
) -> RightsizingRecommendation:
    """The chosen candidate as a recommendation: savings, confidence (evidence coverage, a
    fitted model, an SLO already met) and the reason in words."""
    monthly, offer, mig, lo, hi = best
    savings = max(current_monthly - monthly, 0.0)
    conf = evidence_share**0.5 * (0.9 if fitted.fitted_from_samples_ else 0.6)
    what = offer.instance_type + (f" ({mig} MIG slice)" if mig else "")
    notes = []
    if offer.instance_type == current_offer.instance_type and mig is None:
        notes.append("the current instance type is already the cheapest fit")
    observed = pct.get("p95_latency_ms_p95")
    if observed is not None and observed > slo_p95_ms:
        notes.append(
            f"observed p95 latency ({observed:.0f} ms) already exceeds the SLO, so the "
            "usage data reflect an overloaded deployment"
        )
        conf *= 0.8
    reason = (
        f"{what} serves the p95 rate {pct['request_rate_rps_p95']:.2f} rps with {headroom:.0%} "
        f"headroom in {lo}-{hi} replicas, fits {need_mem:.1f} GiB and meets the {slo_p95_ms:.0f} ms SLO"
    ) + "".join(f"; {n}" for n in notes)
    return RightsizingRecommendation(
        refused=False,
        reason=reason,
        recommended_instance_type=offer.instance_type,
        recommended_gpu_model=offer.gpu_model,
        recommended_mig_profile=mig,
        min_replicas=lo,
        max_replicas=hi,
        recommended_monthly_cost_usd=round(monthly, 2),
        monthly_savings_usd=round(savings, 2),
        confidence=round(conf, 2),
        percentiles=pct,
        **base,
    )


def _refusal(reason: str, base: dict, pct: dict | None = None) -> RightsizingRecommendation:
    return RightsizingRecommendation(
        refused=True,
        reason=reason,
        recommended_instance_type=None,
        recommended_gpu_model=None,
        recommended_mig_profile=None,
        min_replicas=None,
        max_replicas=None,
        recommended_monthly_cost_usd=None,
        monthly_savings_usd=0.0,
        confidence=0.0,
        percentiles=pct or {},
        **base,
    )
