"""How the demo fleet is operated: an autoscaler per deployment, queueing latency, per-second bills.

The demo generator (:mod:`planner.core.demo`) draws each service's demand. This module runs the
fleet on that demand the way a real cluster would, minute by minute, with the cost models'
simulator as the "true" system: each deployment has a hidden per-request service time (its
configured throughput per replica) and a hidden autoscaler (HPA on requests per replica at
:data:`TRUE_TARGET_UTILISATION` of that throughput, 30 s polling, 5-minute scale-down window,
real cold starts) and buys capacity as the demo says (commitments, a spot share of the rest).

What it writes back is only what monitoring and the bill would show:

* usage samples per step: mean ready replicas, GPU utilisation (busy share of the replicas'
  capacity, DCGM-like noise), queue depth, and p50/p95 latency (the step's request-weighted
  p95 of the per-minute p95, with measurement noise);
* compute billing records per hour: instance-hours of the ready replicas (billed per second),
  committed hours used and unused, the pool's spot share of the rest, on-demand for the others.

So the calibration (:mod:`planner.whatif.calibration`) has to recover the service time from GPU
utilisation and the autoscaler from the replica series; neither is read from here. The
services whose SLO is missed: the video service, whose autoscaler target (90 % of throughput)
leaves no queueing headroom for 5-second requests on A100s that take minutes to start; and,
just, text-to-speech: its p95 passes 800 ms only in a few hours at one or two replicas, but
its servers' histogram has one bucket from 0.5 s to 1 s, so the interpolated hourly p95 (as
Prometheus reads it) is over 800 ms in many more hours.

The servers' end-to-end latency histograms (:func:`hourly_histogram_counts`) count each
minute's requests around that minute's p95 with the within-minute spread of
:mod:`costmodels.slo`; GPU utilisation is averaged over the GPUs that exist in a step.
The injected runaway scale-out shows in the metrics as well as the bill (pods pinned at the
maximum, mostly idle), as it would on a real cluster.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from costmodels.capacity import CapacityModel, gpu_speed_factor
from costmodels.results import AutoscalingPolicy, PurchaseMix
from costmodels.simulator import simulate_scenarios
from costmodels.slo import WITHIN_MINUTE_SIGMA, Z95, pooled_p95, request_timeout_s
from planner.core.demo.focus_rows import instance_hour_rows

#: share of a replica's throughput the deployed autoscaler targets (hidden from the calibration)
TRUE_TARGET_UTILISATION = {"video-understanding": 0.9, "image-gen": 0.6}
DEFAULT_TARGET_UTILISATION = 0.7
OPERATIONS_SEED = 20261206
#: usage-frame column (not stored) with each step's per-minute p95 (ms), for the histograms
MINUTE_P95_COLUMN = "_minute_p95_ms"


def operate(
    billing: pd.DataFrame, usage: pd.DataFrame, services, catalog: dict, anomalies, seed: int
):
    """Replace the usage frame's replicas/utilisation/latency and the services' compute billing
    rows with those of the fleet run by its autoscalers; returns (billing, usage)."""

    usage = usage.copy()
    runs = _simulate(usage, services, catalog, seed)
    frames = [billing[~_compute_rows_of(billing, services)]]
    rng = np.random.default_rng(seed + 1206)
    by_minute: list = [None] * len(usage)  # the servers' histograms count every request
    for svc in services:
        sel = (usage["service"] == svc.slug).to_numpy()
        minutes, ready, p95 = runs[svc.slug]
        normal = ready.copy()
        for a in anomalies:
            if a.kind == "runaway-scale-out" and a.service == svc.slug:
                pin = (minutes >= a.start) & (minutes < a.end)
                ready[pin] = svc.max_replicas
                p95[pin] = np.minimum(p95[pin], _idle_p95(svc))
        usage.loc[sel] = _usage_columns(usage.loc[sel].copy(), svc, minutes, ready, p95, rng)
        step_min = int(usage.loc[sel, "step_seconds"].iloc[0] // 60)
        for pos, row in zip(
            np.flatnonzero(sel), p95[: sel.sum() * step_min].reshape(-1, step_min), strict=True
        ):
            by_minute[pos] = row
        offer = catalog[(svc.provider, svc.instance_type, svc.region)]
        frames.append(_compute_billing(svc, offer, minutes, ready, normal))
    usage[MINUTE_P95_COLUMN] = by_minute
    return pd.concat(frames, ignore_index=True), usage


def _idle_p95(svc) -> float:
    return 1.5 * 1000.0 * _gpu_count(svc) / svc.throughput_rps


def _gpu_count(svc) -> float:
    from planner.core import demo

    return float(demo.load_catalog()[(svc.provider, svc.instance_type, svc.region)]["gpu_count"])


def _compute_rows_of(billing: pd.DataFrame, services) -> np.ndarray:
    tags = billing["Tags"].fillna("")
    mask = np.zeros(len(billing), bool)
    for svc in services:
        mask |= (
            tags.str.contains(f'"service": "{svc.slug}"', regex=False)
            & (billing["ServiceCategory"] == "Compute")
        ).to_numpy()
    return mask


def _true_system(svc, offer: dict):
    """The hidden capacity model and autoscaler of one demo deployment."""
    from planner.whatif.engine import catalog

    gpus = float(offer["gpu_count"])
    t1_here = 1000.0 * gpus / svc.throughput_rps
    cap = CapacityModel(
        svc.modality,
        gpu_model=offer["gpu_model"],
        gpu_count=gpus,
        service_time_ms=t1_here * gpu_speed_factor(offer["gpu_model"]),
    ).fit()
    target = TRUE_TARGET_UTILISATION.get(svc.slug, DEFAULT_TARGET_UTILISATION)
    policy = AutoscalingPolicy(
        metric="requests_per_replica",
        target=svc.throughput_rps * target,
        min_replicas=svc.min_replicas,
        max_replicas=svc.max_replicas,
    )
    inst = dataclasses.replace(
        catalog().offer(svc.provider, svc.instance_type, svc.region),
        ondemand_usd_per_hour=offer["ondemand_usd_per_hour"],
        spot_usd_per_hour=offer["spot_usd_per_hour"],
        commit_1y_usd_per_hour=offer["commit_1y_usd_per_hour"],
    )
    mix = PurchaseMix(
        committed_replicas=svc.committed_replicas,
        spot_share=svc.spot_share if offer["spot_usd_per_hour"] else 0.0,
    )
    return cap, policy, inst, mix


def _simulate(usage: pd.DataFrame, services, catalog: dict, seed: int) -> dict:
    """Per service: (minute timestamps, ready replicas per minute, p95 ms per minute)."""
    demands, caps, policies, offers, mixes, slos, index = [], [], [], [], [], [], {}
    for svc in services:
        f = usage[usage["service"] == svc.slug]
        step_min = int(f["step_seconds"].iloc[0] // 60)
        demands.append(np.repeat(f["request_rate_rps"].to_numpy(float) * 60.0, step_min))
        cap, policy, inst, mix = _true_system(
            svc, catalog[(svc.provider, svc.instance_type, svc.region)]
        )
        caps.append(cap), policies.append(policy), offers.append(inst), mixes.append(mix)
        slos.append(float(svc.slo_p95_ms))
        index[svc.slug] = pd.date_range(f["ts"].iloc[0], periods=len(demands[-1]), freq="min")
    results = simulate_scenarios(
        demands,
        policies,
        mixes,
        offers,
        caps,
        slos,
        random_state=OPERATIONS_SEED + seed,
        keep_series=True,
        request_timeout_s=[request_timeout_s(x) for x in slos],
    )
    return {
        svc.slug: (
            index[svc.slug],
            np.asarray(r.replicas, float).copy(),
            np.asarray(r.p95_latency_ms, float).copy(),
        )
        for svc, r in zip(services, results, strict=True)
    }


def _usage_columns(f: pd.DataFrame, svc, minutes, ready, p95, rng) -> pd.DataFrame:
    n = len(f)
    step_min = int(f["step_seconds"].iloc[0] // 60)
    rps = f["request_rate_rps"].to_numpy(float)
    reps = ready[: n * step_min].reshape(n, step_min)
    lat = p95[: n * step_min].reshape(n, step_min)
    mean_reps = reps.mean(1)
    capacity = reps * svc.throughput_rps
    busy = np.divide(rps[:, None], capacity, out=np.ones_like(capacity), where=capacity > 0)
    # DCGM reports the GPUs that exist: the step's utilisation is the busy share averaged over
    # its replica-minutes (a minute with no replica adds no GPU, not an idle one)
    util = np.divide(
        (np.minimum(busy, 1.0) * reps).sum(1),
        reps.sum(1),
        out=np.zeros(n),
        where=reps.sum(1) > 0,
    )
    gpu_util = np.clip(100.0 * util * rng.lognormal(0.0, 0.03, n), 0.0, 100.0)
    demand = np.repeat(rps[:, None] * 60.0, step_min, axis=1)
    pooled = np.nan_to_num(pooled_p95(lat, demand), nan=0.0)
    step_p95 = pooled * rng.lognormal(0.0, 0.03, n)
    served = (mean_reps > 0) & (rps > 0)
    rho = np.clip(util, 0.0, 0.98)
    p50 = np.minimum(step_p95 * 0.55, _idle_p95(svc) * (0.6 + 0.4 * rho / (1.0 - rho)))
    mem_total = f["gpu_mem_total_gib"].to_numpy(float)
    f["replicas"] = mean_reps
    f["gpu_util_pct"] = np.where(mean_reps > 0, gpu_util, 0.0)
    f["gpu_mem_used_gib"] = np.where(
        mean_reps > 0, np.minimum(mem_total * 0.95, svc.model_mem_gib + 2.0 * util), 0.0
    )
    f["queue_depth"] = np.maximum(0.0, rho / (1.0 - rho) * mean_reps * 0.5 - mean_reps * 0.2)
    f["p50_latency_ms"] = np.where(served, p50, np.nan)
    f["p95_latency_ms"] = np.where(served, step_p95, np.nan)
    return f


def _compute_billing(svc, offer: dict, minutes, ready, normal=None) -> pd.DataFrame:
    """Hourly FOCUS compute rows for the ready replicas (billed per second). Replicas above
    the ``normal`` series (a runaway scale-out) are launched on demand by the pool."""
    committed = float(svc.committed_replicas)
    used = np.minimum(ready, committed)
    over = ready - used
    share = svc.spot_share if offer["spot_usd_per_hour"] else 0.0
    base = over if normal is None else np.maximum(np.minimum(normal, ready) - used, 0.0)
    spot = np.floor(share * base + 0.5)
    frame = pd.DataFrame(
        {"used": used, "unused": committed - used, "spot": spot, "od": over - spot},
        index=minutes,
    )
    hourly = frame.resample("h").sum() / 60.0
    hours = hourly.index
    od_price, commit = offer["ondemand_usd_per_hour"], offer["commit_1y_usd_per_hour"]
    parts = [
        ("Standard", hourly["od"].to_numpy(), od_price, None),
        ("Dynamic", hourly["spot"].to_numpy(), offer["spot_usd_per_hour"], None),
        ("Committed", hourly["used"].to_numpy(), commit, "Used"),
        ("Committed", hourly["unused"].to_numpy(), commit, "Unused"),
    ]
    frames = instance_hour_rows(svc, offer, hours, parts, min_qty=1e-9)
    return pd.concat(frames, ignore_index=True)


def hourly_histogram_counts(
    frame: pd.DataFrame, bounds_ms: np.ndarray, per_minute: bool = False
) -> list[tuple]:
    """(hour, per-bucket counts) of the demo servers' latency histograms, *summed* over the
    hour's steps (what Prometheus' ``increase`` of the bucket counters gives; averaging the
    steps' percentiles would understate an hour whose steps differ). ``bounds_ms`` are the
    finite bounds; the counts have one more entry, the +Inf bucket.

    With ``per_minute`` (end-to-end latency) each step's requests are counted minute by minute
    as the servers count them: each minute's requests lognormal around that minute's p95 of
    the operated fleet (:data:`MINUTE_P95_COLUMN`) with the within-minute spread of
    :mod:`costmodels.slo`. Otherwise (time to first token, inter-token latency, derived from
    the steps) each step's requests are spread lognormally from its recorded p50/p95."""
    f = frame[(frame["requests_succeeded"] > 0) & np.isfinite(frame["p50_latency_ms"])]
    if f.empty:
        return []
    n = f["requests_succeeded"].to_numpy(float)
    log_b = np.log(np.asarray(bounds_ms, float))
    if per_minute:
        cdf = _minute_cdf(np.vstack(f[MINUTE_P95_COLUMN].to_numpy()), log_b)
    else:
        cdf = _step_cdf(f, log_b)
    cum = np.hstack([cdf, np.ones((len(f), 1))]) * n[:, None]
    counts = np.diff(np.hstack([np.zeros((len(f), 1)), cum]), axis=1)
    by_hour = pd.DataFrame(counts, index=f["ts"].dt.floor("h").to_numpy()).groupby(level=0).sum()
    out = []
    for hour, row in by_hour.iterrows():
        total = np.round(np.cumsum(row.to_numpy()))
        out.append((pd.Timestamp(hour), np.diff(np.concatenate([[0.0], total])).tolist()))
    return out


def _step_cdf(f: pd.DataFrame, log_b: np.ndarray) -> np.ndarray:
    """Share of each step's requests within each bound: one lognormal from its p50 and p95."""
    from scipy.special import ndtr

    p50 = f["p50_latency_ms"].to_numpy(float)
    p95 = np.maximum(f["p95_latency_ms"].to_numpy(float), p50 * 1.01)
    sigma = np.maximum(np.log(p95 / p50) / 1.645, 1e-3)
    return ndtr((log_b[None, :] - np.log(p50)[:, None]) / sigma[:, None])


def _minute_cdf(p95_by_minute: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """Share of each step's requests within each bound, its minutes weighted equally (demand
    is held over a step): per minute lognormal with p95 ``p95_by_minute`` (ms; a minute at
    the timeout or beyond has no request within a finite bound below it)."""
    from scipy.special import ndtr

    p = np.asarray(p95_by_minute, float)
    ok = np.isfinite(p) & (p > 0)
    z = (log_b[None, None, :] - np.log(np.where(ok, p, 1.0))[:, :, None]) / WITHIN_MINUTE_SIGMA
    cdf = np.where(ok[:, :, None], ndtr(z + Z95), np.where(p[:, :, None] == 0, 1.0, 0.0))
    return cdf.mean(1)
