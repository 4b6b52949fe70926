"""Building blocks of the online anomaly detector (all online: step ``t`` uses ``x_0..x_t``).

* :func:`expected_values` -- one-step-ahead expected value: median level baseline or a
  seasonal baseline (median of the last cycles' values shifted by the change of the
  one-period mean), whichever had the smaller recent error;
* :func:`robust_scale` -- robust residual scale (1.4826 x MAD, at least 1.2533 x mean |r|);
* :func:`capped_record_ratio` -- a statistic against its trailing record;
* :func:`first_alerts` -- one alert per episode;
* :func:`infer_period` -- seasonal period from the timestamps.

The detector itself is :class:`costmodels.anomaly.estimator.OnlineAnomalyDetector`.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

MIN_POINTS = 10
_NEEDS_ONE_DAY = pd.Timedelta(hours=6)


def infer_period(index: pd.Index) -> int | None:
    """Seasonal period in steps from the timestamps: one day for sub-daily data (at most
    6-hourly), one week for daily data, none otherwise or without a DatetimeIndex."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return None
    step = pd.Timedelta(int(np.median(np.diff(index.as_unit("ns").asi8))), unit="ns")
    if step <= pd.Timedelta(0):
        return None
    if step <= _NEEDS_ONE_DAY:
        period = int(round(pd.Timedelta(days=1) / step))
    elif abs(step - pd.Timedelta(days=1)) <= pd.Timedelta(hours=1):
        period = 7
    else:
        return None
    return period if period >= 4 else None


def _lag(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full(len(a), np.nan)
    if 0 < k < len(a):
        out[k:] = a[:-k]
    elif k == 0:
        out[:] = a
    return out


def _rolling(a: np.ndarray, window: int, how: str, min_periods: int) -> np.ndarray:
    r = pd.Series(a).rolling(window, min_periods=min(min_periods, window))
    return getattr(r, how)().to_numpy()


def capped_record_ratio(
    stat: np.ndarray, floor: int, fraction: float, cap: float, min_history: int
) -> np.ndarray:
    """stat_t divided by the largest earlier value in the trailing window of
    ``max(floor, fraction * t)`` steps, where each value enters the window capped at
    ``cap`` x the record it was compared with -- so one huge event (a 20-fold spike, a
    monthly credit) raises the bar by at most ``cap`` and cannot mask later anomalies.

    Values before ``min_history`` (the warm-up, while the baseline is still learning the
    season) never enter the reference.  Sequential (a monotonic deque), so online; NaN
    for the first ``min_history`` steps.
    """
    n = len(stat)
    ratio = np.full(n, np.nan)
    kept = np.empty(n)
    window: deque[int] = deque()  # indices with decreasing kept values
    for t in range(n):
        start = t - max(floor, int(fraction * t))
        while window and window[0] < start:
            window.popleft()
        record = kept[window[0]] if window else np.nan
        value = stat[t]
        if t >= min_history and record > 0:
            ratio[t] = value / record
            value = min(value, cap * record)
        elif t >= min_history:
            ratio[t] = np.inf if value > 0 else 0.0
        kept[t] = value
        if t < min_history:
            continue
        while window and kept[window[-1]] <= value:
            window.pop()
        window.append(t)
    return ratio


def expected_values(
    x: np.ndarray, period: int | None, level_window: int, seasonal_cycles: int
) -> np.ndarray:
    """One-step-ahead expected value b_t from x_0..x_{t-1} (NaN at t=0)."""
    level = _lag(_rolling(x, level_window, "median", 1), 1)
    if not period or period < 2:
        return level
    # each past cycle's value, shifted by the change of the one-period mean since then
    # (a full-period mean carries no seasonality, so this follows level shifts and trend)
    cycle_mean = _lag(_rolling(x, period, "mean", max(2, period // 2)), 1)
    lags = np.vstack(
        [
            _lag(x, c * period) + (cycle_mean - _lag(cycle_mean, c * period))
            for c in range(1, seasonal_cycles + 1)
        ]
    )
    have = np.isfinite(lags)
    # median of the available adjusted lags (NaN where none is available yet)
    sorted_lags = np.sort(np.where(have, lags, np.inf), axis=0)
    count = have.sum(axis=0)
    idx_lo = np.clip((count - 1) // 2, 0, None)
    idx_hi = np.clip(count // 2, 0, None)
    cols = np.arange(len(x))
    with np.errstate(invalid="ignore"):
        seasonal = 0.5 * (sorted_lags[idx_lo, cols] + sorted_lags[idx_hi, cols])
    seasonal = np.where(count > 0, seasonal, np.nan)
    err_level = _lag(_rolling(np.abs(x - level), period, "mean", max(2, period // 2)), 1)
    err_seasonal = _lag(_rolling(np.abs(x - seasonal), period, "mean", max(2, period // 2)), 1)
    use_seasonal = np.isfinite(seasonal) & (err_seasonal < 0.9 * err_level)
    return np.where(use_seasonal, seasonal, level)


def robust_scale(residual: np.ndarray, x: np.ndarray, scale_window: int) -> np.ndarray:
    """Robust residual scale from residuals before t (same units as the series)."""
    abs_r = np.abs(residual)
    mad = _lag(_rolling(abs_r, scale_window, "median", 10), 1) * 1.4826
    mean_ad = _lag(_rolling(abs_r, scale_window, "mean", 10), 1) * 1.2533
    level = np.abs(_lag(_rolling(x, scale_window, "median", 10), 1))
    # NaN until 10 residuals are known (z is then 0); a tiny floor keeps flat series finite
    return np.fmax(np.fmax(mad, mean_ad), 1e-3 * level + 1e-9)


def first_alerts(candidate: np.ndarray, suppress_steps: int) -> np.ndarray:
    """Keep the first alert of each episode: drop candidates within suppress_steps of the
    previous kept alert.  Left-to-right, so online."""
    flags = np.zeros(len(candidate), dtype=np.int8)
    next_allowed = 0
    for i in np.flatnonzero(candidate):
        if i >= next_allowed:
            flags[i] = 1
            next_allowed = int(i) + suppress_steps
    return flags
