"""The demo fleet's demand (diurnal, weekly, trend, real-trace burstiness) and injected anomalies."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.core.demo.fleet import FIXTURES, DemoService


def burstiness(rng: np.random.Generator, n: int) -> np.ndarray:
    """Multiplicative noise with the real trace's minute-to-minute shape (mean 1)."""
    path = FIXTURES / "llm_requests_per_minute.csv"
    with open(path, newline="") as fh:
        reqs = np.array(
            [
                float(r["requests"])
                for r in csv.DictReader(fh)
                if r["source"] == "azure_llm_2023_conv"
            ]
        )
    base = reqs / reqs.mean()
    base = np.convolve(base, np.ones(5) / 5, mode="same")  # 5-minute smoothing
    base = base / base.mean()
    idx = (rng.integers(0, len(base)) + np.arange(n)) % len(base)
    return np.clip(0.75 + 0.25 * base[idx] * rng.lognormal(0.0, 0.08, n), 0.3, 2.5)


def demand_profile(
    svc: DemoService, index: pd.DatetimeIndex, rng: np.random.Generator
) -> np.ndarray:
    """Requests per second at each timestamp: diurnal × weekly × trend × burstiness."""
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60.0
    days = (index - index[0]).total_seconds().to_numpy() / 86400.0
    if svc.batch_window:
        lo, hi = svc.batch_window
        shape = np.where((hours >= lo) & (hours < hi), 1.0, 0.0)
    else:
        shape = (
            0.35 + 0.65 * np.clip(np.sin((hours - 9.0) / 24.0 * 2 * np.pi) * 0.5 + 0.5, 0, 1) ** 1.5
        )
        weekend = index.day_of_week.to_numpy() >= 5
        shape = shape * np.where(weekend, 0.7, 1.0)
    trend = 1.0 + 0.12 * days / 90.0
    return svc.peak_rps * shape * trend * burstiness(rng, len(index))


@dataclass(frozen=True)
class InjectedAnomaly:
    service: str | None
    start: dt.datetime
    end: dt.datetime
    kind: str
    description: str


def replicas_for(svc: DemoService, rps: np.ndarray, target_util: float = 0.7) -> np.ndarray:
    needed = np.ceil(rps / (svc.throughput_rps * target_util))
    return np.clip(needed, svc.min_replicas, svc.max_replicas)


def _anomalies(start_day: pd.Timestamp, days: int) -> list[InjectedAnomaly]:
    def at(frac: float, hour: int) -> pd.Timestamp:
        return start_day + pd.Timedelta(days=int(days * frac), hours=hour)

    return [
        InjectedAnomaly(
            "image-gen",
            at(0.66, 6),
            at(0.66, 22),
            "runaway-scale-out",
            "Image generation pinned at max replicas on on-demand for 16 hours",
        ),
        InjectedAnomaly(
            None,
            at(0.82, 0),
            at(0.82, 0) + pd.Timedelta(hours=54),
            "untagged-gpu-instance",
            "An untagged p4d.24xlarge left running for 54 hours",
        ),
        InjectedAnomaly(
            "chat-assistant",
            at(0.45, 0),
            at(0.45, 24),
            "egress-spike",
            "Data transfer out of chat-assistant jumps twenty-fold for a day",
        ),
    ]
