"""The demo fleet's first-draft usage samples (replaced by the operated fleet's, see
:mod:`planner.whatif.demo_operations`, which keeps demand, memory and units of work)."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
