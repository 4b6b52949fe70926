"""Rolling-origin backtest of the forecaster against the seasonal-naive benchmark.

For each origin (the last ``n_origins`` multiples of ``step`` steps before the end), the
model is fitted on everything before the origin and forecasts ``horizon`` steps; errors
are pooled over origins.

* MAPE (percent) over points whose actual value is not zero;
* MASE: mean absolute error divided by the in-sample mean absolute error of the
  seasonal-naive forecast (period m = the first seasonal period, or 1) on the first
  training window -- below 1 beats seasonal-naive in-sample;
* interval coverage: share of actual values inside the 80 % and 95 % intervals.

The same figures are reported for the seasonal-naive forecast (repeat the last season).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodels.forecast.model import SeasonalTrendForecaster, seasonal_periods
from costmodels.forecast.series_io import infer_step, regularise


@dataclass(frozen=True)
class BacktestResult:
    """Pooled rolling-origin errors (units: percent for MAPE, ratios otherwise)."""

    horizon_steps: int
    n_origins: int
    season_steps: int
    mape_pct: float
    mase: float
    coverage_80: float
    coverage_95: float
    naive_mape_pct: float
    naive_mase: float

    @property
    def beats_seasonal_naive(self) -> bool:
        return self.mase < self.naive_mase


def seasonal_naive(train: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last ``season`` values (season 1 = last value)."""
    last = train[-season:]
    return np.resize(last, horizon) if season > 1 else np.full(horizon, train[-1])


def backtest(
    series: pd.Series,
    horizon: int,
    n_origins: int = 5,
    step: int | None = None,
    min_train: int | None = None,
    **params,
) -> BacktestResult:
    """Rolling-origin evaluation of :class:`SeasonalTrendForecaster` (``params``) on
    ``series`` (DatetimeIndex, regular).  ``step`` defaults to ``horizon``."""
    series = regularise(series.astype(float), path="series")
    y = series.to_numpy()
    n = len(y)
    step = int(step or horizon)
    periods = seasonal_periods(infer_step(series.index), n)
    season = periods[0] if periods else 1
    min_train = int(min_train or max(2 * season, 8))
    origins = [n - horizon - k * step for k in range(n_origins - 1, -1, -1)]
    origins = [o for o in origins if o >= min_train]
    if not origins:
        raise ValueError(
            f"series of {n} points too short for a backtest with horizon {horizon} "
            f"and at least {min_train} training points"
        )
    first_train = y[: origins[0]]
    scale = float(np.mean(np.abs(first_train[season:] - first_train[:-season])))
    scale = scale if scale > 0 else 1.0
    abs_err, pct_err, naive_abs, naive_pct = [], [], [], []
    inside80 = inside95 = total = 0
    for origin in origins:
        train, actual = series.iloc[:origin], y[origin : origin + horizon]
        fc = SeasonalTrendForecaster(**params).fit(train).predict(len(actual))
        pred = fc["forecast"].to_numpy()
        naive = seasonal_naive(train.to_numpy(), len(actual), season)
        nz = actual != 0
        abs_err.append(np.abs(pred - actual))
        naive_abs.append(np.abs(naive - actual))
        pct_err.append(np.abs(pred - actual)[nz] / np.abs(actual[nz]))
        naive_pct.append(np.abs(naive - actual)[nz] / np.abs(actual[nz]))
        inside80 += int(np.sum((actual >= fc["lower_80"]) & (actual <= fc["upper_80"])))
        inside95 += int(np.sum((actual >= fc["lower_95"]) & (actual <= fc["upper_95"])))
        total += len(actual)

    def _mean(parts: list[np.ndarray]) -> float:
        joined = np.concatenate(parts)
        return float(joined.mean()) if len(joined) else float("nan")

    return BacktestResult(
        horizon_steps=int(horizon),
        n_origins=len(origins),
        season_steps=season,
        mape_pct=100 * _mean(pct_err),
        mase=_mean(abs_err) / scale,
        coverage_80=inside80 / total,
        coverage_95=inside95 / total,
        naive_mape_pct=100 * _mean(naive_pct),
        naive_mase=_mean(naive_abs) / scale,
    )
