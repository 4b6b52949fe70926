"""Benchmark: forecasts scored like Headroom's are judged (``../shared/tools/forecast_score.py``).

For each series the last H points are held back; the command line
(``python -m costmodels.forecast``: model chosen per series by rolling-origin backtest,
conformal 80 % interval) forecasts them, and the scorer compares its WAPE with the naive
baselines (last value, same time yesterday, same time last week) and counts how many held-
back points fall inside [lower, upper].  The previous forecaster (the seasonal-trend
regression with its parametric intervals, ``SeasonalTrendForecaster``) is scored on the same
split for comparison (``baseline``).

Series:
* request counts of the three shared LLM traces (Azure code, Azure conversation, Mooncake)
  aggregated to 10-second and 1-minute buckets -- the traces span one hour each, so hourly
  or daily aggregates would be one point; these bursty sub-hour series stand in for them
  (points_per_day = 1 for the scorer: "yesterday" does not exist, "last week" = 7 steps);
* synthetic hourly demand (10 weeks, daily + weekly cycles, bursts) and daily cost (410
  days, weekday cycle, growth).

statsforecast (AutoETS / MSTL with conformal intervals) was to be compared too, but it is
not installable from this machine's package registry, so it is not a dependency.

The last printed line is one JSON object.  Usage: ``python bench/forecast.py``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from costmodels.forecast.model import SeasonalTrendForecaster  # noqa: E402

SHARED = REPO.parent / "shared"
TRACES = SHARED / "data" / "traces"
SCORER = SHARED / "tools" / "forecast_score.py"


def trace_series() -> dict[str, tuple[pd.Series, int, int]]:
    if not TRACES.exists():
        return {}
    stamps = {
        "azure_code": pd.to_datetime(
            pd.read_csv(TRACES / "AzureLLMInferenceTrace_code.csv")["TIMESTAMP"]
        ),
        "azure_conv": pd.to_datetime(
            pd.read_csv(TRACES / "AzureLLMInferenceTrace_conv.csv")["TIMESTAMP"]
        ),
        "mooncake": pd.Timestamp("2023-11-16")
        + pd.to_timedelta(
            pd.read_csv(TRACES / "mooncake_conversation_trace.csv")["timestamp_ms"], unit="ms"
        ),
    }
    out = {}
    for freq, horizon in (("10s", 30), ("1min", 5)):
        for name, ts in stamps.items():
            counts = ts.dt.floor(freq).value_counts().sort_index().astype(float)
            out[f"{name}_requests_per_{freq}"] = (
                counts.asfreq(freq, fill_value=0.0).iloc[1:-1],
                horizon,
                1,
            )
    return out


def synthetic() -> dict[str, tuple[pd.Series, int, int]]:
    rng = np.random.default_rng(42)
    t = np.arange(24 * 70)
    hourly = 100 + 0.012 * t + 30 * np.sin(2 * np.pi * t / 24) + 15 * np.sin(2 * np.pi * t / 168)
    hourly = hourly + rng.normal(0, 5, len(t)) + 80 * (rng.random(len(t)) < 0.03)
    d = np.arange(410)
    daily = (1000 + 2.0 * d) * np.where(d % 7 >= 5, 0.7, 1.0) * np.exp(rng.normal(0, 0.05, len(d)))
    return {
        "synthetic_hourly_demand": (
            pd.Series(hourly, index=pd.date_range("2025-01-06", periods=len(t), freq="h")),
            168,
            24,
        ),
        "synthetic_daily_cost": (
            pd.Series(daily, index=pd.date_range("2025-01-06", periods=len(d), freq="D")),
            45,
            1,
        ),
    }


def old_model(series: pd.Series, horizon: int) -> dict:
    train, test = series.iloc[:-horizon], series.iloc[-horizon:].to_numpy()
    fc = SeasonalTrendForecaster().fit(train).predict(horizon)
    pred = fc["forecast"].to_numpy()
    inside = (test >= fc["lower_80"].to_numpy()) & (test <= fc["upper_80"].to_numpy())
    den = np.abs(test).sum()
    return {
        "wape": float(np.abs(test - pred).sum() / den) if den else float("nan"),
        "coverage80": float(inside.mean()),
    }


def geomean(values: list[float]) -> float | None:
    ok = [v for v in values if v and math.isfinite(v) and v > 0]
    return round(math.exp(sum(map(math.log, ok)) / len(ok)), 3) if ok else None


def main() -> int:
    if not SCORER.exists():
        print(json.dumps({"bench": "forecast", "skipped": f"{SCORER} missing"}))
        return 0
    spec = importlib.util.spec_from_file_location("forecast_score", SCORER)
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    cases = {**trace_series(), **synthetic()}
    figures, seconds, baseline_seconds = {}, 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (series, horizon, per_day) in cases.items():
            path = Path(tmp) / f"{name}.csv"
            pd.DataFrame(
                {"timestamp": series.index.strftime("%Y-%m-%d %H:%M:%S"), "value": series.values}
            ).to_csv(path, index=False)
            start = time.perf_counter()
            r = scorer.score(sys.executable, str(path), horizon, per_day)
            seconds += time.perf_counter() - start
            start = time.perf_counter()
            old = old_model(series, horizon)
            baseline_seconds += time.perf_counter() - start
            best = r.get("best_baseline_wape") or float("nan")
            r["previous_model_relative"] = round(old["wape"] / best, 3) if best else None
            r["previous_model_coverage80"] = round(old["coverage80"], 3)
            figures[name] = r
            print(
                f"{name:40s} rel WAPE {r.get('relative')!s:>6} (previous {r['previous_model_relative']!s:>6}) "
                f"cov80 {r.get('coverage80')!s:>5} (previous {r['previous_model_coverage80']})"
            )
    rel = [f.get("relative") for f in figures.values()]
    prev = [f.get("previous_model_relative") for f in figures.values()]
    cov = [f["coverage80"] for f in figures.values() if "coverage80" in f]
    prev_cov = [f["previous_model_coverage80"] for f in figures.values()]
    print(
        json.dumps(
            {
                "bench": "forecast",
                "seconds": round(seconds, 3),
                "baseline": "previous forecaster (SeasonalTrendForecaster, parametric intervals) on the same splits",
                "baseline_seconds": round(baseline_seconds, 3),
                "vs_baseline": round(seconds / max(baseline_seconds, 1e-9), 2),
                "relative_wape_geomean": geomean(rel),
                "baseline_relative_wape_geomean": geomean(prev),
                "coverage80_mean": round(float(np.mean(cov)), 3) if cov else None,
                "baseline_coverage80_mean": round(float(np.mean(prev_cov)), 3),
                "series": len(figures),
                "figures": figures,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
