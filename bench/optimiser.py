"""Benchmark: the one planning engine's joint search (instance x policy x warm pool x spot share,
exact commitment) for 50 services, 14 days each.

Services mix all seven modalities over AWS, Azure and GCP offers from the seed catalog, with
their own diurnal/weekly demand; each is searched on its own offer at two batch sizes with
:func:`costmodels.engine.search`. Baseline: the same grid with every configuration simulated
alone (one simulator call per configuration, no vectorisation), measured on a subset and scaled
to 50. Target < 10 s. Prints one JSON line last.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from costmodels import engine
from costmodels.capacity import MODALITY_DEFAULTS, CapacityModel
from costmodels.catalog import PriceCatalog
from costmodels.simulator import AutoscalingPolicy, PurchaseMix

N_SERVICES = 50
DAYS = 14
BASELINE_SUBSET = 2
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


def fleet(seed: int = 0) -> list[tuple[str, np.ndarray, list[engine.Option], engine.Config, float]]:
    rng = np.random.default_rng(seed)
    catalog = PriceCatalog.load_default()
    modalities = list(MODALITY_DEFAULTS)
    t = np.arange(DAYS * 1440)
    out = []
    for i in range(N_SERVICES):
        mod = modalities[i % len(modalities)]
        offer = catalog.offer(*OFFERS[i % len(OFFERS)])
        options = [
            engine.Option(
                f"{offer.instance_type} (batch {b})",
                offer,
                CapacityModel(mod, gpu_model=offer.gpu_model, batch_size=b).fit(),
            )
            for b in (BATCH[mod], max(1, BATCH[mod] // 2))
        ]
        cap = options[0].capacity
        replicas = rng.uniform(1.5, 8)  # mean load in replicas of work
        shape = (1 + 0.5 * np.sin(2 * np.pi * (t / 1440 - rng.uniform()))) * np.where(
            (t // 1440) % 7 >= 5, 0.7, 1.0
        )
        demand = np.maximum(
            60 * cap.throughput_rps_ * 0.6 * replicas * shape * rng.normal(1, 0.05, t.size), 0
        )
        current = AutoscalingPolicy(
            metric="gpu_utilisation",
            target=50.0,
            min_replicas=2,
            max_replicas=int(4 * replicas) + 4,
        )
        slo = 2.5 * float(cap.service_latency_ms(np.array([1.0]), np.array([1]))[0])
        out.append(
            (f"svc-{i:02d}-{mod}", demand, options, engine.Config(0, current, PurchaseMix()), slo)
        )
    return out


def main() -> None:
    services = fleet()
    t0 = time.perf_counter()
    c0 = time.process_time()
    results = [engine.search(d, o, c, slo, random_state=0) for _, d, o, c, slo in services]
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    for _, d, o, c, slo in services[:BASELINE_SUBSET]:
        for cfg in engine.grid(o, c, engine.SearchSpace()):
            engine.evaluate(d, o, [cfg], slo, random_state=0, reprice=True)
    baseline_seconds = (time.perf_counter() - t0) * N_SERVICES / BASELINE_SUBSET
    feasible = [r for r in results if r.optimum is not None]
    print(f"{len(feasible)}/{len(results)} feasible plans in {seconds:.2f} s", file=sys.stderr)
    current = sum(r.current.monthly_cost_usd for r in results)
    planned = sum(r.optimum.monthly_cost_usd for r in feasible)
    print(
        json.dumps(
            {
                "bench": "optimiser",
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu, 3),
                "baseline": "the same grid, one configuration per simulator call (scaled from subset)",
                "baseline_seconds": round(baseline_seconds, 2),
                "vs_baseline": round(seconds / baseline_seconds, 4),
                "services": N_SERVICES,
                "days": DAYS,
                "feasible_plans": len(feasible),
                "fleet_current_monthly_usd": round(current, 2),
                "fleet_planned_monthly_usd": round(planned, 2),
                "fleet_monthly_savings_usd": round(
                    sum(r.current.monthly_cost_usd - r.optimum.monthly_cost_usd for r in feasible),
                    2,
                ),
                "target_seconds": 10,
            }
        )
    )


if __name__ == "__main__":
    main()
