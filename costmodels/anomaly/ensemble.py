"""Streaming ensemble of anomaly detectors combined through Numenta's anomaly likelihood.

Every function here is *online*: the value at step ``t`` uses only ``x_0..x_t``.

Base detectors (each gives a raw anomaly score per step):

* **robust residual** -- ``|x_t - b_t| / s_t`` where ``b_t`` is a seasonal/level baseline
  from earlier values and ``s_t`` a robust scale of earlier residuals
  (:func:`costmodels.anomaly.detector.expected_values`, :func:`robust_scale`);
* **windowed mean shift** -- ``sqrt(k) |mean(z_{t-k+1..t})|`` of the signed residual
  (the windowed-Gaussian detector of NAB, on a robust residual);
* **spectral residual** -- Ren et al., "Time-Series Anomaly Detection Service at
  Microsoft", KDD 2019: the saliency of the last point of a trailing window after removing
  the smoothed log-amplitude spectrum, with the window extended by extrapolated points so
  the last point is not at the edge;
* **relative entropy** -- Wang et al., "Statistical techniques for online anomaly
  detection in data centers", IFIP/IEEE IM 2011: Kullback-Leibler divergence of the
  histogram of the last ``w`` values from the histogram of the ``reference`` values before
  them, bins fixed by the earlier values' robust range.

Each raw score stream goes through the **anomaly likelihood** of Ahmad, Lavin, Purdy and
Agha, "Unsupervised real-time anomaly detection for streaming data", Neurocomputing 262
(2017), section 4.3 (numenta/nupic ``anomaly_likelihood.py``): a short moving average of
the raw score is compared with a Gaussian fitted to the long-run history of those averages,
``z_k = (mean_short - mu_long) / sigma_long`` (one-sided: only unusually *high* raw scores
count).  The ensemble raises an alarm when the largest of the K likelihood z-scores passes
``min_z`` -- a Bonferroni-style union bound: the tail probability of the strongest detector
is ``Q(min_z)`` and the family-wise rate at most ``K Q(min_z)``.  ``min_z`` and the few
window lengths are chosen by leave-one-category-out cross-validation on NAB
(``bench/nab_cv.py``), never per series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from costmodels.anomaly.detector import (
    MIN_POINTS,
    capped_record_ratio,
    expected_values,
    first_alerts,
    robust_scale,
)

VARIANCE_FLOOR = 1e-4
LIKELIHOOD_MIN_HISTORY = 7  # nupic's likelihood keeps the fitted variance above a small floor


def _lagged_rolling(a: np.ndarray, window: int, how: str, min_periods: int) -> np.ndarray:
    """Rolling statistic of a[t-window..t-1] (strictly earlier values)."""
    r = pd.Series(a).rolling(window, min_periods=min(min_periods, window))
    out = getattr(r, how)().to_numpy()
    return np.r_[np.nan, out[:-1]]


def residual_z(
    x: np.ndarray, period: int | None, level_window: int, seasonal_cycles: int, scale_window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signed robust residual z-score, the expected value and the scale (all online)."""
    expected = expected_values(x, period, level_window, seasonal_cycles)
    expected = np.where(np.isfinite(expected), expected, x)
    residual = x - expected
    scale = robust_scale(residual, x, scale_window)
    # NaN while the scale is still unknown (the first residuals): no evidence either way
    z = np.where(np.isfinite(scale), residual / scale, np.nan)
    z = np.clip(np.nan_to_num(z, nan=np.nan, posinf=1e6, neginf=-1e6), -1e6, 1e6)
    return z, expected, scale


def mean_shift(z: np.ndarray, k: int, cap: float) -> np.ndarray:
    """sqrt(k) |mean of the last k capped z| (windowed Gaussian on the robust residual)."""
    zc = np.clip(z, -cap, cap)
    m = pd.Series(zc).rolling(k, min_periods=k).mean().to_numpy()
    return np.abs(np.nan_to_num(m)) * np.sqrt(k)


def spectral_residual(
    x: np.ndarray, window: int = 64, extend: int = 5, avg: int = 3, local: int = 21
) -> np.ndarray:
    """Spectral-residual saliency of the last point of each trailing window (Ren et al.
    2019, eq. 1-4 and the extension by estimated points of section 4.2).

    Returns ``(S_t - mean(S_local)) / mean(S_local)`` where ``S`` is the saliency map of
    the window ``x[t-window+1..t]`` extended with ``extend`` extrapolated points and
    ``S_local`` the ``local`` saliency values before ``t`` in that map.  0 for the first
    ``window`` steps.
    """
    n = len(x)
    out = np.zeros(n)
    if n <= window:
        return out
    # scale-free: divide each window by its mean absolute value (+ tiny) to keep the
    # log-amplitude finite on flat segments
    wins = sliding_window_view(x, window)  # row j = x[j .. j+window-1], ends at t=j+window-1
    # extension: next value estimated from the average gradient to the last point
    m = min(5, window - 1)
    last = wins[:, -1]
    grads = (last[:, None] - wins[:, -1 - np.arange(1, m + 1)]) / np.arange(1, m + 1)
    est = wins[:, -2] + grads.mean(axis=1) * m  # the paper's g-bar * m from x_{n-1}... x_1
    ext = np.repeat(est[:, None], extend, axis=1)
    full = np.concatenate([wins, ext], axis=1)
    center = full.mean(axis=1, keepdims=True)
    full = full - center
    spec = np.fft.fft(full, axis=1)
    amp = np.abs(spec)
    log_amp = np.log(amp + 1e-8)
    kernel = np.ones(avg) / avg
    # moving average of the log spectrum along the frequency axis (edge-padded)
    pad = np.pad(log_amp, ((0, 0), (avg // 2, avg - 1 - avg // 2)), mode="edge")
    smooth = sliding_window_view(pad, avg, axis=1) @ kernel
    resid = log_amp - smooth
    phase = np.angle(spec)
    sal = np.abs(np.fft.ifft(np.exp(resid + 1j * phase), axis=1))
    pos = window - 1
    lo = max(0, pos - local)
    ref = sal[:, lo:pos].mean(axis=1)
    score = (sal[:, pos] - ref) / np.maximum(ref, 1e-12)
    out[window - 1 :] = np.clip(score, 0.0, None)
    out[:window] = 0.0
    return out


def relative_entropy(
    x: np.ndarray, window: int, reference: int, bins: int = 10, scale_window: int = 1500
) -> np.ndarray:
    """KL divergence of the histogram of the last ``window`` values from that of the
    ``reference`` values before them (Wang et al. 2011).  Bins span the median +/- 4
    robust deviations of the values up to ``t - window`` (online); out-of-range values go
    to the end bins.  Laplace smoothing keeps the divergence finite."""
    n = len(x)
    out = np.zeros(n)
    if n < window + reference + 2:
        return out
    med = _lagged_rolling(x, scale_window, "median", 10)
    mad = _lagged_rolling(np.abs(x - np.nan_to_num(med)), scale_window, "median", 10)
    # bin the values with the bin edges known at t - window (shifted so no look-ahead)
    lag_med = np.r_[np.full(window, np.nan), med[:-window]]
    lag_mad = np.r_[np.full(window, np.nan), mad[:-window]]
    spread = 4 * 1.4826 * lag_mad
    spread = np.where(spread > 0, spread, np.abs(lag_med) * 1e-3 + 1e-9)
    # each step t uses its own edges for both windows: indicator matrix per t
    start = window + reference
    t_idx = np.arange(start, n)
    lo = lag_med[t_idx] - spread[t_idx]
    width = 2 * spread[t_idx] / bins
    ok = np.isfinite(lo) & np.isfinite(width) & (width > 0)
    cur = sliding_window_view(x, window)[t_idx - window + 1]  # x[t-window+1 .. t]
    ref = sliding_window_view(x, reference)[t_idx - window - reference + 1]
    b_cur = np.clip(
        ((cur - lo[:, None]) / width[:, None]).astype(np.int64, copy=False), 0, bins - 1
    )
    b_ref = np.clip(
        ((ref - lo[:, None]) / width[:, None]).astype(np.int64, copy=False), 0, bins - 1
    )
    rows = np.arange(len(t_idx))[:, None]
    h_cur = np.zeros((len(t_idx), bins))
    h_ref = np.zeros((len(t_idx), bins))
    np.add.at(h_cur, (np.broadcast_to(rows, b_cur.shape), b_cur), 1.0)
    np.add.at(h_ref, (np.broadcast_to(rows, b_ref.shape), b_ref), 1.0)
    p = (h_cur + 0.5) / (window + 0.5 * bins)
    q = (h_ref + 0.5) / (reference + 0.5 * bins)
    kl = np.sum(p * np.log(p / q), axis=1)
    out[start:] = np.where(ok, kl, 0.0)
    return out


def likelihood_z(raw: np.ndarray, short: int, long: int, warmup: int) -> np.ndarray:
    """Anomaly-likelihood z-score (Ahmad et al. 2017): moving average of the last
    ``short`` raw scores against the mean / std of those averages over the previous
    ``long`` steps (strictly earlier).  0 until ``warmup`` steps have passed."""
    avg = pd.Series(raw).rolling(short, min_periods=1).mean().to_numpy()
    # NaN raw scores (the baseline's own warm-up) are not history: the fit needs
    # LIKELIHOOD_MIN_HISTORY real values
    mu = _lagged_rolling(avg, long, "mean", max(LIKELIHOOD_MIN_HISTORY, short))
    var = _lagged_rolling(avg, long, "var", max(LIKELIHOOD_MIN_HISTORY, short))
    sd = np.sqrt(np.fmax(np.nan_to_num(var, nan=0.0), VARIANCE_FLOOR * np.fmax(np.abs(mu), 1e-3)))
    z = np.nan_to_num((avg - mu) / sd, nan=0.0, posinf=0.0, neginf=0.0)
    z[: max(warmup, 1)] = 0.0
    return z


STREAMS = ("residual", "up", "down", "shift", "spectral", "entropy")


def raw_streams(
    x: np.ndarray,
    z: np.ndarray,
    names: tuple[str, ...],
    *,
    shift_window: int = 6,
    entropy_window: int = 24,
    entropy_reference: int = 240,
) -> dict[str, np.ndarray]:
    """Raw anomaly score streams of the base detectors named in ``names`` (see the module
    docstring): residual = log(1 + |z|), up/down = log(1 + max(+-z, 0)) (a dip is not
    masked by an earlier spike), shift = windowed mean shift, spectral = spectral
    residual, entropy = relative entropy."""
    out = {}
    for name in names:
        if name == "residual":
            out[name] = np.log1p(np.abs(z))
        elif name == "up":
            out[name] = np.log1p(np.maximum(z, 0.0))
        elif name == "down":
            out[name] = np.log1p(np.maximum(-z, 0.0))
        elif name == "shift":
            out[name] = mean_shift(z, shift_window, 10.0)
        elif name == "spectral":
            out[name] = spectral_residual(x)
        elif name == "entropy":
            out[name] = relative_entropy(x, entropy_window, entropy_reference)
        else:
            raise ValueError(f"unknown detector {name!r}; choose from {', '.join(STREAMS)}")
    return out


def ensemble_statistic(
    streams: dict[str, np.ndarray], short: int, long: int, warmup: int
) -> tuple[np.ndarray, np.ndarray]:
    """Largest anomaly-likelihood z over the streams (Bonferroni: the alarm threshold is
    the same for each of the K detectors) and the index of the stream that gave it."""
    names = list(streams)
    stack = np.vstack([likelihood_z(streams[k], short, long, warmup) for k in names])
    which = np.argmax(stack, axis=0)
    return stack[which, np.arange(stack.shape[1])], which


def effective_statistic(
    stat: np.ndarray,
    unit: int,
    *,
    record_ratio: float | None,
    record_periods: float,
    record_fraction: float,
    time_bonferroni: bool,
) -> np.ndarray:
    """The ensemble statistic after the flood rules (online).

    ``time_bonferroni``: ``z^2 - 2 ln(1 + t / unit)`` (a Gaussian tail bound divided by the
    number of periods seen).  ``record_ratio``: keep the statistic only where it beats
    ``record_ratio`` x its trailing record (:func:`capped_record_ratio`, window
    ``max(record_periods * unit, record_fraction * t)``).
    """
    eff = stat
    if time_bonferroni:
        t = np.arange(len(stat))
        eff = np.sign(stat) * np.sqrt(np.maximum(stat**2 - 2 * np.log1p(t / unit), 0.0))
    if record_ratio is not None:
        ratio = capped_record_ratio(
            stat, int(record_periods * unit), float(record_fraction), 3.0, max(unit, MIN_POINTS)
        )
        eff = np.where(np.nan_to_num(ratio, nan=0.0) > record_ratio, eff, 0.0)
    eff = np.maximum(eff, 0.0)
    eff[:MIN_POINTS] = 0.0
    return eff


def decide(
    stat: np.ndarray,
    unit: int,
    *,
    min_z: float,
    record_ratio: float | None,
    record_periods: float,
    record_fraction: float,
    time_bonferroni: bool,
    suppress_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Effective statistic (:func:`effective_statistic`) and the 0/1 alarms: where it
    reaches ``min_z``, at most one alarm per ``suppress_steps``."""
    eff = effective_statistic(
        stat,
        unit,
        record_ratio=record_ratio,
        record_periods=record_periods,
        record_fraction=record_fraction,
        time_bonferroni=time_bonferroni,
    )
    return eff, first_alerts(eff >= min_z, suppress_steps)
