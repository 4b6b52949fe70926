"""The seeds' image scenario re-run with the product's own defaults, one lever at a time.

The seed test (tests/costmodels/test_simulator.py) reaches its figures with a 6 ms service
time and five changes at once. Here the service time, batch cost factor, batch wait and
latency spread are the image_generation modality defaults of costmodels.capacity (60 ms per
image on an A100 at FP16, 240 ms on the T4 of g4dn.xlarge), and each lever is applied alone
to the seed's "before" configuration (batch 1, target 90 % of throughput, 60 s polling, 120 s
scale-up window, no warm pool), then all together. Nothing here is fitted to the seed's
figures; the test only checks the table is internally consistent.

Run ``python tests/costmodels/test_image_scenario_levers.py`` to print the table.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from costmodels.capacity import CapacityModel
from costmodels.catalog import PriceCatalog
from costmodels.results import AutoscalingPolicy, PurchaseMix
from costmodels.simulator import simulate_scenarios
from costmodels.slo import simulated_attainment

SLO_MS = 250.0


def _seed_trace(days=7, seed=3):  # the seed test's demand, unchanged
    rng = np.random.default_rng(seed)
    t = np.arange(days * 1440)
    d = 5000 * (1 + 0.6 * np.sin(2 * np.pi * (t / 1440 - 0.3)))
    for s in rng.integers(0, t.size - 60, days * 3):
        d[s : s + rng.integers(10, 45)] += rng.uniform(3000, 8000)
    return np.maximum(d + rng.normal(0, 100, t.size), 0)


def lever_table(max_replicas: int = 12) -> list[dict]:
    t4 = PriceCatalog.load_default().offer("aws", "g4dn.xlarge", "us-east-1")
    demand = _seed_trace()
    cap1 = CapacityModel("image_generation", gpu_model=t4.gpu_model, batch_size=1).fit()
    cap8 = CapacityModel("image_generation", gpu_model=t4.gpu_model, batch_size=8).fit()
    before = AutoscalingPolicy(
        metric="gpu_utilisation",
        target=90.0,
        min_replicas=1,
        max_replicas=max_replicas,
        polling_interval_s=60,
        scale_up_stabilisation_s=120,
    )
    rows = [
        ("before (seed's configuration, product defaults)", before, cap1),
        ("batching 8", before, cap8),
        ("target 70 %", dataclasses.replace(before, target=70.0), cap1),
        (
            "polling 30 s, scale-up window 60 s",
            dataclasses.replace(before, polling_interval_s=30, scale_up_stabilisation_s=60),
            cap1,
        ),
        ("warm pool 1", dataclasses.replace(before, warm_pool=1), cap1),
        (
            "all four",
            dataclasses.replace(
                before, target=70.0, polling_interval_s=30, scale_up_stabilisation_s=60, warm_pool=1
            ),
            cap8,
        ),
    ]
    n = len(rows)
    res = simulate_scenarios(
        [demand] * n,
        [p for _, p, _ in rows],
        [PurchaseMix()] * n,
        [t4] * n,
        [c for _, _, c in rows],
        [SLO_MS] * n,
        random_state=1,
        keep_series=True,
    )
    out = []
    for (name, _pol, cap), r in zip(rows, res, strict=True):
        out.append(
            {
                "lever": name,
                "monthly_cost_usd": round(r.monthly_cost_usd, 0),
                "p95_ms": round(r.request_weighted_p95_latency_ms, 0),
                "slo_attainment": round(
                    simulated_attainment(r.p95_latency_ms, demand, SLO_MS) or 0.0, 4
                ),
                "cold_starts": r.cold_starts,
                "dropped_share": round(r.dropped_requests / r.requests, 4),
                "throughput_rps_per_replica": round(cap.throughput_rps_, 2),
                "t1_ms": round(cap.service_time_ms_, 1),
            }
        )
    return out


def test_image_scenario_levers_table_is_consistent():
    table = lever_table()
    assert [r["lever"] for r in table][0].startswith("before")
    assert table[0]["t1_ms"] == 240.0  # the modality default (60 ms on an A100) on a T4 (x0.25)
    for r in table:
        assert r["monthly_cost_usd"] > 0 and 0.0 <= r["slo_attainment"] <= 1.0
    by = {r["lever"]: r for r in table}
    # batching raises throughput per replica by b / (1 + e (b - 1)) = 8 / 3.1 with e = 0.3
    assert by["batching 8"]["throughput_rps_per_replica"] / table[0][
        "throughput_rps_per_replica"
    ] == (__import__("pytest").approx(8 / 3.1, rel=0.01))


if __name__ == "__main__":
    for top in (12, 60):
        print(f"max replicas {top}:")
        for row in lever_table(top):
            print(" ", row)
