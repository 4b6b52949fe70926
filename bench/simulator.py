"""Benchmark: the vectorised autoscaler simulator, 1,000 policies x 30 days at 1-minute steps.

Baseline: the plain per-policy, per-minute Python loop (costmodels.simulator_reference)
over the same trace for one policy of each metric kind, scaled to 1,000; it reads the same
precomputed latency table as the engine, so the ratio measures the loops, not the formula.
The grid covers every metric kind (queue_length included). Both must agree on the
subset (checked here too). Prints one JSON line last.
"""

from __future__ import annotations

import itertools
import json
import sys
import time

import numpy as np

from costmodels.capacity import CapacityModel
from costmodels.catalog import PriceCatalog
from costmodels.results import METRICS
from costmodels.simulator import AutoscalingPolicy, PurchaseMix, simulate
from costmodels.simulator_reference import simulate_reference

DAYS = 30
N_POLICIES = 1000
BASELINE_SUBSET = len(METRICS)  # one policy of each metric kind


def demand_trace(days: int, seed: int = 7) -> np.ndarray:
    """Requests per minute with diurnal and weekly cycles, noise and a few bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 1440)
    diurnal = 1.0 + 0.6 * np.sin(2 * np.pi * (t / 1440.0 - 0.3))
    weekly = np.where((t // 1440) % 7 >= 5, 0.6, 1.0)
    base = 1800.0 * diurnal * weekly
    bursts = np.zeros_like(base)
    for start in rng.integers(0, t.size - 60, days):
        bursts[start : start + rng.integers(5, 40)] += rng.uniform(500, 2500)
    return np.maximum(base + bursts + rng.normal(0, 80, t.size), 0.0)


METRIC_TARGETS = [
    ("requests_per_replica", 8),
    ("requests_per_replica", 12),
    ("gpu_utilisation", 60),
    ("gpu_utilisation", 80),
    ("concurrency", 2),
    ("queue_length", 4),
]


def policy_grid(n: int) -> list[AutoscalingPolicy]:
    """The first ``n`` of the grid; the metric varies fastest, so every kind is in it."""
    grid = itertools.product(
        [0, 1, 2], [15, 30], [15, 60, 120], [0, 60, 180], [300, 600], [0, 2], METRIC_TARGETS
    )
    out = []
    for lo, hi, poll, up, down, warm, (metric, target) in grid:
        out.append(
            AutoscalingPolicy(
                metric=metric,
                target=target,
                min_replicas=lo,
                max_replicas=hi,
                polling_interval_s=poll,
                scale_up_stabilisation_s=up,
                scale_down_stabilisation_s=down,
                warm_pool=warm,
            )
        )
        if len(out) == n:
            break
    return out


def main() -> None:
    demand = demand_trace(DAYS)
    catalog = PriceCatalog.load_default()
    offer = catalog.offer("aws", "g5.xlarge", "us-east-1")
    cap = CapacityModel("image_generation", gpu_model=offer.gpu_model, batch_size=4).fit()
    policies = policy_grid(N_POLICIES)
    mixes = [
        PurchaseMix(committed_replicas=i % 3, spot_share=(i % 4) / 4) for i in range(len(policies))
    ]
    t0, c0 = time.perf_counter(), time.process_time()
    results = simulate(demand, policies, mixes, offer, cap, slo_p95_ms=400, random_state=1)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    # the loop runs one policy of each metric kind, spread over the grid
    step = len(policies) // BASELINE_SUBSET
    subset = [
        next(i for i in range(k * step, len(policies)) if policies[i].metric == metric)
        for k, metric in enumerate(METRICS)
    ]
    t0 = time.perf_counter()
    ref = simulate_reference(
        demand,
        [policies[i] for i in subset],
        [mixes[i] for i in subset],
        offer,
        cap,
        slo_p95_ms=400,
        random_state=1,
    )
    subset_seconds = time.perf_counter() - t0
    sub_vec = simulate(
        demand,
        [policies[i] for i in subset],
        [mixes[i] for i in subset],
        offer,
        cap,
        slo_p95_ms=400,
        random_state=1,
    )
    agree = all(
        np.array_equal(v.replicas, r.replicas) and abs(v.total_cost_usd - r.total_cost_usd) < 1e-6
        for v, r in zip(sub_vec, ref, strict=True)
    )
    baseline_seconds = subset_seconds * len(policies) / len(subset)
    print(
        f"vectorised: {seconds:.2f} s; loop on {len(subset)} policies: {subset_seconds:.2f} s",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "simulator",
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "baseline": "per-policy per-minute Python loop (scaled from subset)",
                "baseline_seconds": round(baseline_seconds, 1),
                "vs_baseline": round(seconds / baseline_seconds, 5),
                "speedup": round(baseline_seconds / seconds, 1),
                "policies": len(policies),
                "minutes": int(demand.size),
                "policy_minutes_per_second": round(len(policies) * demand.size / seconds),
                "baseline_subset_policies": len(subset),
                "subset_agrees": agree,
                "total_spot_interruptions": int(sum(r.spot_interruptions for r in results)),
                "policies_per_metric": {m: sum(p.metric == m for p in policies) for m in METRICS},
                "baseline_metrics": [policies[i].metric for i in subset],
            }
        )
    )


if __name__ == "__main__":
    main()
