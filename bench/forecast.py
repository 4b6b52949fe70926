"""Benchmark: rolling-origin backtests of the forecaster against seasonal-naive.

Series (all generated here, plus the real LLM request traces when present):
* hourly demand, 10 weeks, daily + weekly cycles, trend, noise -- horizon one week;
* daily cost, 410 days, multiplicative weekday cycle, growth -- horizon 45 days (mid-month
  to the end of next month);
* requests per minute of the three traces in ../shared/data/traces (partial first/last
  minutes dropped) -- horizon 10 minutes.

Figures per series: MAPE %, MASE (vs in-sample seasonal-naive), 80 %/95 % coverage, and
the seasonal-naive MAPE/MASE.  ``seconds`` is the time of all model backtests,
``baseline_seconds`` the time of the same rolling origins with seasonal-naive.
The last printed line is one JSON object.  Usage: ``python bench/forecast.py``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from costmodels.forecast import backtest, seasonal_naive  # noqa: E402

TRACE = REPO.parent / "shared" / "data" / "traces" / "llm_requests_per_minute.csv"


def synthetic() -> dict[str, tuple[pd.Series, int, int]]:
    rng = np.random.default_rng(42)
    t = np.arange(24 * 70)
    hourly = 100 + 0.012 * t + 30 * np.sin(2 * np.pi * t / 24) + 15 * np.sin(2 * np.pi * t / 168)
    hourly = pd.Series(
        hourly + rng.normal(0, 5, len(t)),
        index=pd.date_range("2025-01-06", periods=len(t), freq="h"),
    )
    d = np.arange(410)
    daily = (1000 + 2.0 * d) * np.where(d % 7 >= 5, 0.7, 1.0) * np.exp(rng.normal(0, 0.05, len(d)))
    daily = pd.Series(daily, index=pd.date_range("2025-01-06", periods=len(d), freq="D"))
    return {"synthetic_hourly_demand": (hourly, 168, 6), "synthetic_daily_cost": (daily, 45, 5)}


def traces() -> dict[str, tuple[pd.Series, int, int]]:
    if not TRACE.exists():
        return {}
    frame = pd.read_csv(TRACE)
    out = {}
    for source, rows in frame.groupby("source"):
        rows = rows.sort_values("minute_offset").iloc[1:-1]
        index = pd.Timestamp("2023-11-16") + pd.to_timedelta(rows["minute_offset"], unit="min")
        series = pd.Series(rows["requests"].to_numpy(float), index=pd.DatetimeIndex(index))
        out[f"trace_{source}_requests"] = (series, 10, 5)
    return out


def naive_time(series: pd.Series, horizon: int, n_origins: int, season: int) -> float:
    start = time.perf_counter()
    y = series.to_numpy()
    for k in range(n_origins):
        seasonal_naive(y[: len(y) - horizon - k * horizon], horizon, season)
    return time.perf_counter() - start


def main() -> int:
    cases = {**synthetic(), **traces()}
    figures, seconds, baseline_seconds = {}, 0.0, 0.0
    for name, (series, horizon, n_origins) in cases.items():
        start = time.perf_counter()
        result = backtest(series, horizon=horizon, n_origins=n_origins)
        seconds += time.perf_counter() - start
        baseline_seconds += naive_time(series, horizon, n_origins, result.season_steps)
        figures[name] = {
            k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(result).items()
        }
        print(f"{name:48s} MAPE {result.mape_pct:7.2f}% MASE {result.mase:5.2f} (naive {result.naive_mase:5.2f}) "
              f"cov80 {result.coverage_80:4.2f} cov95 {result.coverage_95:4.2f}")  # fmt: skip
    print(
        json.dumps(
            {
                "bench": "forecast",
                "seconds": round(seconds, 3),
                "baseline": "seasonal-naive on the same rolling origins",
                "baseline_seconds": round(baseline_seconds, 6),
                "vs_baseline": round(seconds / max(baseline_seconds, 1e-9), 1),
                "beats_seasonal_naive": sum(f["mase"] < f["naive_mase"] for f in figures.values()),
                "series": len(figures),
                "figures": figures,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
