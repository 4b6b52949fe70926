"""The one latency-SLO definition Headroom uses everywhere (pages, what-if, plans, API).

A service's objective is a p95 latency (``latency_slo_p95_ms``). **SLO attainment** is the share
of requests served in hours whose p95 latency is within the objective:

    attainment = Σ_h requests_h · [p95_h ≤ objective] / Σ_h requests_h

Hours without requests are left out (nothing to attain). Observed p95_h comes from the hour's
latency histogram (:func:`costmodels.unit_economics.histogram_quantile` over the summed buckets,
as Prometheus' ``histogram_quantile`` does); a simulated p95_h from the simulator's per-minute p95
as the request-weighted 95th percentile of the hour's minutes (:func:`hourly_p95`). The SLO is
*met* over a range when attainment ≥ :data:`SLO_MET_ATTAINMENT`.

>>> round(window_attainment([100.0, 300.0], [30.0, 10.0], 200.0), 2)
0.75
"""

from __future__ import annotations

import numpy as np

MINUTES_PER_WINDOW = 60
SLO_MET_ATTAINMENT = 0.95  # "most of the time": 95 % of requests in hours within the p95 objective


def window_attainment(p95_ms, requests, objective_ms: float) -> float | None:
    """Share of ``requests`` in windows whose ``p95_ms`` is within ``objective_ms``; None when
    no window has requests. NaN p95 with requests counts as missed (no capacity)."""
    p = np.asarray(p95_ms, float)
    w = np.asarray(requests, float)
    if p.shape != w.shape:
        raise ValueError(f"window_attainment: {p.shape} p95 values but {w.shape} request counts")
    keep = w > 0
    total = w[keep].sum()
    if total <= 0:
        return None
    ok = np.where(np.isfinite(p[keep]), p[keep] <= objective_ms, False)
    return float(w[keep][ok].sum() / total)


def hourly_p95(p95_per_min, demand_per_min, minutes: int = MINUTES_PER_WINDOW):
    """(p95 per window, requests per window) from per-minute p95 and demand (requests/min).

    A window's p95 is the request-weighted 95th percentile of its minutes' p95 (a trailing
    partial window is kept)."""
    p = np.asarray(p95_per_min, float)
    d = np.asarray(demand_per_min, float)
    if p.shape != d.shape:
        raise ValueError(f"hourly_p95: {p.size} p95 minutes but {d.size} demand minutes")
    n = int(np.ceil(p.size / minutes))
    pad = n * minutes - p.size
    p = np.concatenate([p, np.zeros(pad)]).reshape(n, minutes)
    d = np.concatenate([d, np.zeros(pad)]).reshape(n, minutes)
    order = np.argsort(p, axis=1, kind="stable")
    ps = np.take_along_axis(p, order, 1)
    ds = np.take_along_axis(d, order, 1)
    req = d.sum(1)
    cum = np.cumsum(ds, 1)
    idx = (cum < 0.95 * req[:, None] - 1e-12).sum(1)
    out = ps[np.arange(n), np.minimum(idx, minutes - 1)]
    return np.where(req > 0, out, np.nan), req


def simulated_attainment(p95_per_min, demand_per_min, objective_ms: float) -> float | None:
    """:func:`window_attainment` of a simulation's per-minute series in hourly windows."""
    p, req = hourly_p95(p95_per_min, demand_per_min)
    return window_attainment(p, req, objective_ms)
