"""Benchmark: a full plan (policy grid x commitment x spot share) for 50 services, 14 days each.

Services mix all seven modalities over AWS, Azure and GCP offers from the seed catalog,
with their own diurnal/weekly demand. Baseline: planning services one at a time
(``optimise_service`` per service, measured on a subset and scaled to 50). Target < 10 s.
Prints one JSON line last.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from costmodels.capacity import MODALITY_DEFAULTS, CapacityModel
from costmodels.catalog import PriceCatalog
from costmodels.optimiser import ServiceSpec, optimise_fleet, optimise_service
from costmodels.simulator import AutoscalingPolicy, PurchaseMix

N_SERVICES = 50
DAYS = 14
BASELINE_SUBSET = 5
OFFERS = [
    ("aws", "g5.xlarge", "us-east-1"),
    ("aws", "g6.xlarge", "us-east-1"),
    ("aws", "g4dn.xlarge", "us-east-1"),
    ("aws", "p5.4xlarge", "us-east-1"),
    ("gcp", "g2-standard-4", "us-central1"),
    ("gcp", "a2-highgpu-1g", "us-central1"),
    ("azure", "Standard_NC24ads_A100_v4", "eastus"),
    ("azure", "Standard_NC4as_T4_v3", "eastus"),
]
BATCH = {
    "llm_chat": 16,
    "embeddings": 32,
    "image_generation": 4,
    "speech_to_text": 8,
    "text_to_speech": 4,
    "video": 2,
    "batch": 16,
}


def fleet(seed: int = 0) -> list[ServiceSpec]:
    rng = np.random.default_rng(seed)
    catalog = PriceCatalog.load_default()
    modalities = list(MODALITY_DEFAULTS)
    t = np.arange(DAYS * 1440)
    specs = []
    for i in range(N_SERVICES):
        mod = modalities[i % len(modalities)]
        offer = catalog.offer(*OFFERS[i % len(OFFERS)])
        cap = CapacityModel(mod, gpu_model=offer.gpu_model, batch_size=BATCH[mod]).fit()
        replicas = rng.uniform(1.5, 8)  # mean load in replicas of work
        shape = (1 + 0.5 * np.sin(2 * np.pi * (t / 1440 - rng.uniform()))) * np.where(
            (t // 1440) % 7 >= 5, 0.7, 1.0
        )
        demand = np.maximum(
            60 * cap.throughput_rps_ * 0.6 * replicas * shape * rng.normal(1, 0.05, t.size), 0
        )
        current = AutoscalingPolicy(
            target=round(0.5 * cap.throughput_rps_, 6),
            min_replicas=2,
            max_replicas=int(4 * replicas) + 4,
        )
        slo = 2.5 * float(cap.service_latency_ms(np.array([1.0]), np.array([1]))[0])
        specs.append(
            ServiceSpec(f"svc-{i:02d}-{mod}", demand, cap, offer, slo, 0.99, current, PurchaseMix())
        )
    return specs


def main() -> None:
    specs = fleet()
    t0 = time.perf_counter()
    c0 = time.process_time()
    plans = optimise_fleet(specs, random_state=0)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    for s in specs[:BASELINE_SUBSET]:
        optimise_service(
            s.service,
            s.demand_per_min,
            s.capacity,
            s.offer,
            slo_p95_ms=s.slo_p95_ms,
            current_policy=s.current_policy,
            current_mix=s.current_mix,
        )
    baseline_seconds = (time.perf_counter() - t0) * N_SERVICES / BASELINE_SUBSET
    feasible = [p for p in plans if p.feasible]
    print(f"{len(feasible)}/{len(plans)} feasible plans in {seconds:.2f} s", file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "optimiser",
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu, 3),
                "baseline": "optimise_service one service at a time (scaled from subset)",
                "baseline_seconds": round(baseline_seconds, 2),
                "vs_baseline": round(seconds / baseline_seconds, 4),
                "services": N_SERVICES,
                "days": DAYS,
                "feasible_plans": len(feasible),
                "fleet_current_monthly_usd": round(
                    sum(p.current_monthly_cost_usd or 0 for p in plans), 2
                ),
                "fleet_planned_monthly_usd": round(sum(p.monthly_cost_usd for p in feasible), 2),
                "fleet_monthly_savings_usd": round(
                    sum(p.monthly_savings_usd or 0 for p in feasible), 2
                ),
                "target_seconds": 10,
            }
        )
    )


if __name__ == "__main__":
    main()
