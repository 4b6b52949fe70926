"""Online anomaly detection for cost and usage series.

The detector is *online*: everything it reports at step ``t`` is computed from the values
at steps ``0..t`` only (trailing windows, lags and a left-to-right decision pass), so
appending future points never changes past scores or decisions.

Method (per step ``t``):

1. **Expected value** ``b_t`` from values before ``t``: the median of the last
   ``level_window`` values (level baseline) or, when a seasonal period ``P`` is known, the
   median over the last ``seasonal_cycles`` cycles of ``x_{t-cP}`` shifted by the change
   of the one-period mean since then (seasonal baseline; a full-period mean carries no
   seasonality, so this follows level shifts and trend).  Whichever baseline had the
   smaller mean absolute error over the last period is used.
2. **Robust residual z-score** ``z_t = (x_t - b_t) / s_t`` where ``s_t`` is a robust scale
   (1.4826 x median absolute residual, at least 1.2533 x mean absolute residual) over the
   previous ``scale_window`` residuals.
3. **Evidence statistics** on ``z`` compressed beyond ``extreme_z`` (``|z|`` above it
   grows only logarithmically -- monotone, so rankings are kept): the point statistic
   ``|z_t|`` and, for each ``k`` in ``shift_windows``, the mean-shift statistic
   ``sqrt(k) |mean(z_{t-k+1..t})|`` (level shifts and bursts show up here before any
   single point is extreme).
4. **Adaptive threshold**: a statistic alarms when it is both significant in absolute terms
   (``>= min_z`` robust standard deviations) and a *record*: larger than every value of the
   same statistic over the trailing ``max(record_window, record_fraction * t)`` steps.
   Because the reference grows with the history, the false-alarm rate on a stationary
   series falls like ``1 / t`` -- a flat noisy series raises (almost surely) nothing.
   The first ``warmup_periods`` periods (baseline still learning) never enter the
   reference, and a record-breaker raises it by at most ``record_cap`` x, so one huge
   event (a credit, a 20-fold spike) cannot mask later anomalies.  A record must be
   strictly beaten: a metric that blips to the same value every few hours is not news
   after the first blip.
5. **One alert per episode**: after an alert, further alerts are suppressed for
   ``suppress_steps`` steps (the estimator uses half a seasonal period).

Tuned on the labelled NAB development series in ``shared/data/anomaly`` (see
``bench/anomaly.py``); the parameters are few and stated in units of the series' own
variability, not fitted per series.

``anomaly_score`` is ``r / (1 + r)`` in ``[0, 1]`` where ``r`` is the ratio of the strongest
significant statistic to its trailing record (0 when nothing is significant), so 0.5 means
"record-breaking"; record-breakers muted by the one-alert-per-episode rule are scaled by
0.49.  Hence ``is_anomaly`` (the decision) is exactly ``anomaly_score >= 0.5``.
The expected band drawn by the UI is ``expected +/- band_z * scale``.
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


def score_series(
    x: np.ndarray,
    *,
    period: int | None,
    level_window: int,
    seasonal_cycles: int,
    scale_window: int,
    shift_windows: tuple[int, ...],
    record_window: int,
    record_fraction: float,
    record_cap: float,
    warmup_periods: float,
    min_z: float,
    extreme_z: float,
    suppress_steps: int,
    band_z: float,
) -> dict[str, np.ndarray]:
    """Run the detector over a whole series (see the module docstring); returns arrays."""
    x = np.asarray(x, dtype=float)
    expected = expected_values(x, period, level_window, seasonal_cycles)
    expected = np.where(np.isfinite(expected), expected, x)  # first point: no history
    residual = x - expected
    warmup = max(MIN_POINTS, int(warmup_periods * period) if period else 0)
    scale = robust_scale(residual, x, scale_window)
    z = np.nan_to_num(residual / scale, nan=0.0, posinf=0.0, neginf=0.0)
    z = np.clip(z, -1e6, 1e6)
    # Statistics see z compressed beyond extreme_z (log growth), so one huge point cannot
    # dominate the mean-shift statistics or the records for long.
    excess = np.maximum(np.abs(z) - extreme_z, 0.0)
    z_clip = np.sign(z) * (np.minimum(np.abs(z), extreme_z) + np.log1p(excess))
    statistics = [np.abs(z_clip)]
    for k in shift_windows:
        mean_z = _rolling(z_clip, k, "mean", k)
        statistics.append(np.abs(np.nan_to_num(mean_z)) * np.sqrt(k))
    ratio = np.zeros(len(x))
    for stat in statistics:
        r = capped_record_ratio(stat, record_window, record_fraction, record_cap, warmup)
        ratio = np.fmax(ratio, np.where(stat >= min_z, np.nan_to_num(r, nan=0.0), 0.0))
    ratio[:MIN_POINTS] = 0.0
    is_anomaly = first_alerts(ratio > 1.0, suppress_steps)
    score = ratio / (1.0 + ratio)
    # record-breakers muted by the one-alert-per-episode rule drop below 0.5, so that
    # anomaly_score >= 0.5 exactly where is_anomaly is 1
    score = np.where((score >= 0.5) & (is_anomaly == 0), 0.49 * score, score)
    scale_band = np.nan_to_num(scale, nan=0.0)
    return {
        "expected": expected,
        "lower": expected - band_z * scale_band,
        "upper": expected + band_z * scale_band,
        "z": z,
        "anomaly_score": score,
        "is_anomaly": is_anomaly,
    }
