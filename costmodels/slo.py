"""The one latency-SLO definition Headroom uses everywhere (pages, what-if, plans, API).

A service's objective is a p95 latency (``latency_slo_p95_ms``). **SLO attainment** is the share
of requests served in hours whose p95 latency is within the objective:

    attainment = Σ_h requests_h · [p95_h ≤ objective] / Σ_h requests_h

Hours without requests are left out (nothing to attain). Observed p95_h comes from the hour's
latency histogram (:func:`costmodels.unit_economics.histogram_quantile` over the summed buckets,
as Prometheus' ``histogram_quantile`` does); a simulated p95_h from the simulator's per-minute p95
as the p95 of the hour's requests pooled over its minutes (:func:`pooled_p95`) -- read
through the service's histogram buckets (:func:`bucketed_p95`) where it has histograms, so the
buckets' interpolation applies to both sides. The SLO is
*met* over a range when attainment ≥ :data:`SLO_MET_ATTAINMENT`.

>>> round(window_attainment([100.0, 300.0], [30.0, 10.0], 200.0), 2)
0.75
"""

from __future__ import annotations

import numpy as np

MINUTES_PER_WINDOW = 60
SLO_MET_ATTAINMENT = 0.95  # "most of the time": 95 % of requests in hours within the p95 objective
WITHIN_MINUTE_SIGMA = 0.4  # log-sd of latency within a minute (p95 / p50 = 1.93)
Z95 = 1.6448536269514722  # standard normal 95th percentile


def request_timeout_s(slo_p95_ms: float) -> float:
    """Request timeout simulated for a service: twice its p95 objective, at least 60 s, so a
    request that times out has always missed the objective (a timeout at the objective would
    count queued-out minutes as met)."""
    return max(60.0, 2.0 * float(slo_p95_ms) / 1000.0)


def window_attainment(p95_ms, requests, objective_ms: float) -> float | None:
    """Share of ``requests`` in windows whose ``p95_ms`` is within ``objective_ms``; None when
    no window has requests. NaN p95 with requests counts as missed (no capacity)."""
    p = np.asarray(p95_ms, float)
    w = np.asarray(requests, float)
    if p.shape != w.shape:
        raise ValueError(f"window_attainment: {p.size} p95 values but {w.size} request counts")
    keep = w > 0
    total = w[keep].sum()
    if total <= 0:
        return None
    ok = np.where(np.isfinite(p[keep]), p[keep] <= objective_ms, False)
    return float(w[keep][ok].sum() / total)


def pooled_p95(p95_ms, weights, sigma: float = WITHIN_MINUTE_SIGMA, axis: int = -1) -> np.ndarray:
    """p95 of the requests pooled over intervals, each with its own p95 (rows along ``axis``).

    Within an interval latency is taken as lognormal with log-sd ``sigma`` (p95 / p50 =
    exp(Z95 sigma)); the pooled p95 solves sum_i w_i F_i(x) = 0.95 (bisection in log space).
    An interval with infinite p95 never counts as within. NaN where the weights sum to 0.
    """
    from scipy.special import ndtr

    p = np.moveaxis(np.asarray(p95_ms, float), axis, -1)
    w = np.moveaxis(np.asarray(weights, float), axis, -1)
    tot = w.sum(-1)
    finite = np.isfinite(p) & (p > 0)
    logp = np.log(np.where(finite, p, 1.0))
    lo = np.where(finite, logp, np.inf).min(-1) - Z95 * sigma - 1.0
    hi = np.where(finite, logp, -np.inf).max(-1) + 1.0
    lo = np.where(np.isfinite(lo), lo, 0.0)
    hi = np.where(np.isfinite(hi), hi, 0.0)
    for _ in range(60):
        mid = (lo + hi) / 2.0
        z = (mid[..., None] - logp) / sigma + Z95
        cdf = (np.where(finite, ndtr(z), 0.0) * w).sum(-1) / np.maximum(tot, 1e-300)
        below = cdf < 0.95
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    out = np.exp(hi)
    # if the finite intervals cannot hold 95 % of the requests, the pooled p95 is unbounded
    share_finite = (w * finite).sum(-1) / np.maximum(tot, 1e-300)
    out = np.where(share_finite < 0.95, np.inf, out)
    return np.where(tot > 0, out, np.nan)


def bucketed_p95(p95_ms, weights, bounds_ms, sigma: float = WITHIN_MINUTE_SIGMA, axis: int = -1):
    """What Prometheus would report as the p95 of the pooled requests, given the server's
    histogram bucket bounds (ascending, last ``inf``): the mixture of :func:`pooled_p95` counted
    into the buckets, then :func:`costmodels.unit_economics.histogram_quantile` (linear
    interpolation inside the bucket). Comparing a simulation with histograms this way keeps the
    buckets' interpolation bias on both sides."""
    from scipy.special import ndtr

    from costmodels.unit_economics import histogram_quantile

    p = np.moveaxis(np.asarray(p95_ms, float), axis, -1)
    w = np.moveaxis(np.asarray(weights, float), axis, -1)
    flat_p = p.reshape(-1, p.shape[-1])
    flat_w = w.reshape(-1, w.shape[-1])
    b = np.asarray(bounds_ms, float)
    finite_b = b[np.isfinite(b)]
    out = np.full(flat_p.shape[0], np.nan)
    for i, (pi, wi) in enumerate(zip(flat_p, flat_w, strict=True)):
        tot = wi.sum()
        if tot <= 0:
            continue
        ok = np.isfinite(pi) & (pi > 0)
        z = (np.log(finite_b)[:, None] - np.log(np.where(ok, pi, 1.0))[None, :]) / sigma + Z95
        cdf = (np.where(ok[None, :], ndtr(z), 0.0) * wi[None, :]).sum(1) / tot
        cum = np.append(cdf, 1.0)
        counts = np.diff(np.concatenate([[0.0], cum])) * tot
        q = histogram_quantile(0.95, list(finite_b) + [np.inf], counts.tolist())
        out[i] = np.nan if q is None else q
    return out.reshape(p.shape[:-1])


def hourly_p95(p95_per_min, demand_per_min, minutes: int = MINUTES_PER_WINDOW, bounds_ms=None):
    """(p95 per window, requests per window) from per-minute p95 and demand (requests/min):
    each window's :func:`pooled_p95`, or :func:`bucketed_p95` when the server's histogram
    ``bounds_ms`` are given (a trailing partial window is kept)."""
    p = np.asarray(p95_per_min, float)
    d = np.asarray(demand_per_min, float)
    if p.shape != d.shape:
        raise ValueError(f"hourly_p95: {p.size} p95 minutes but {d.size} demand minutes")
    n = int(np.ceil(p.size / minutes))
    pad = n * minutes - p.size
    p = np.concatenate([p, np.zeros(pad)]).reshape(n, minutes)
    d = np.concatenate([d, np.zeros(pad)]).reshape(n, minutes)
    if bounds_ms is not None:
        return bucketed_p95(p, d, bounds_ms), d.sum(1)
    return pooled_p95(p, d), d.sum(1)


def simulated_attainment(
    p95_per_min, demand_per_min, objective_ms: float, bounds_ms=None
) -> float | None:
    """:func:`window_attainment` of a simulation's per-minute series in hourly windows (read
    through the server's histogram buckets when ``bounds_ms`` is given)."""
    p, req = hourly_p95(p95_per_min, demand_per_min, bounds_ms=bounds_ms)
    return window_attainment(p, req, objective_ms)
