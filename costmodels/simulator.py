"""Autoscaler simulator: many policies x purchase mixes over a demand trace at 1-minute steps.

Semantics, per minute ``t`` (identical in :mod:`costmodels.simulator_reference`, the plain
per-policy loop used as a cross-check and benchmark baseline):

1. replicas whose start completes at ``t`` become ready; spot replicas whose 2-minute
   notice ends at ``t`` are terminated;
2. ready replicas serve ``demand[t] * (1 - cache_hit_rate)`` requests plus the backlog at
   ``throughput_rps * 60`` each; what they cannot serve queues, and the queue beyond
   ``request_timeout_s`` worth of work is dropped;
3. spot interruptions (Poisson per spot replica at the offer's bucket rate, reproducible
   via ``random_state``) give a 2-minute notice and launch a replacement at once;
4. the autoscaler reads its metric as of one polling interval ago, takes the lowest
   (scale-up) or highest (scale-down) recommendation of the stabilisation window, and
   starts replicas -- from the warm pool (``warm_start_s``) first, then cold
   (``cold_start_s``) -- or stops them (after the cooldown; they stop serving from
   ``t + 1``, and return to the warm pool if it is below its size).

So a demand step at ``t0`` is served by new replicas from ``t0 + poll + up window + start``
(each rounded up to whole minutes); a drop is followed by fewer replicas from
``t0 + poll + down window + 1``. Replicas start at the steady state for ``demand[0]``. Billing: every running instance (ready or starting)
each minute; ``committed_replicas`` always, at the commitment price; the rest split
``spot_share`` spot / on-demand; warm-pool instances at ``warm_pool_cost_fraction`` of
on-demand. Per-minute p95 latency comes from the capacity model's queueing formula, or
from the backlog drain time when replicas are overloaded (capped at the timeout).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from costmodels.capacity import CapacityModel
from costmodels.catalog import InstanceOffer
from costmodels.results import AutoscalingPolicy, PurchaseMix, SimulationResult
from costmodels.simulation_rows import (
    NOTICE_MIN,
    _account,
    _latency_tables,
    _prepare,
    _recommend,
    _results,
    _window_sources,
    raw_recommendations,
    spot_events,
)

__all__ = ["AutoscalingPolicy", "PurchaseMix", "SimulationResult", "simulate", "simulate_scenarios"]
CHUNK_MIN = 1440


def simulate_scenarios(
    demands: Sequence[np.ndarray],
    policies: Sequence[AutoscalingPolicy],
    mixes: Sequence[PurchaseMix],
    offers: Sequence[InstanceOffer],
    capacities: Sequence[CapacityModel],
    slo_p95_ms: Sequence[float],
    *,
    random_state: int | None = None,
    request_timeout_s: float | Sequence[float] = 60.0,
    keep_series: bool = True,
    progress: Callable[[float], None] | None = None,
) -> list[SimulationResult]:
    """Simulate P independent scenarios at once (row i = demands[i] x policies[i] x ...).

    Demand traces are shared by identity (pass the same array object to share work); all
    must have the same length. See the module docstring for the semantics. Spot draws are
    per row: row ``i`` gets the ``i``-th stream spawned from ``random_state``, so the same
    scenarios in the same order reproduce exactly.
    """  # fmt: skip
    P = len(policies)
    if P == 0:
        return []
    lengths = {"demands": len(demands), "mixes": len(mixes), "offers": len(offers),
               "capacities": len(capacities), "slo_p95_ms": len(slo_p95_ms)}  # fmt: skip
    wrong = {k: n for k, n in lengths.items() if n != P}
    if wrong:
        raise ValueError(
            f"simulate_scenarios: {P} policies but {wrong}; give one of each per scenario"
        )
    if isinstance(request_timeout_s, int | float):
        timeouts = [float(request_timeout_s)] * P
    else:
        timeouts = [float(x) for x in request_timeout_s]
    rows = _prepare(demands, policies, mixes, offers, capacities, slo_p95_ms, timeouts)
    T = rows.demands.shape[1]
    events = spot_events(rows, T, random_state)
    tables = _latency_tables(rows, T)
    win_lo, win_hi = _window_sources(rows)
    ar = np.arange(P)
    H = int(max(rows.cold.max(), rows.warm_steps.max(), NOTICE_MIN) + 1)
    pend = np.zeros((H, P), np.int64)  # replicas becoming ready at minute t (ring, t % H)
    wref = np.zeros((H, P), np.int64)  # warm-pool instances available again at minute t
    term = np.zeros((H, P), np.int64)  # interrupted spot replicas terminated at minute t
    pend_used, wref_used, term_used = [False] * H, [False] * H, [False] * H
    start_delays = sorted(set(rows.cold.tolist()) | set(rows.warm_steps.tolist()))
    cold_delays = sorted(set(rows.cold.tolist()))
    ready = raw_recommendations(rows, 0, 1)[0].copy()  # start in steady state for demand[0]
    npend, doomed = np.zeros(P, np.int64), np.zeros(P, np.int64)
    n_doomed = 0
    warm = rows.warm_size.copy()
    any_warm = bool(rows.warm_size.any())
    backlog, tot, tmp, cap = np.zeros(P), np.empty(P), np.empty(P), np.empty(P)
    cur = np.empty(P, np.int64)
    want_up_b, want_dn_b, cool_b = np.empty(P, bool), np.empty(P, bool), np.empty(P, bool)
    next_dn = np.full(P, -(10**9), np.int64)  # first minute a scale-down is allowed
    HQ = int(rows.lag.max() + 1)
    qhist = np.zeros((HQ, P))  # backlog ring for queue-length metrics
    any_queue = bool(rows.is_queue.any())
    tfrac, tol_up, tol_dn = rows.timeout_s / 60.0, 1.0 + rows.tol, 1.0 - rows.tol
    cold_starts = np.zeros(P, np.int64)
    interruptions = np.zeros(P, np.int64)
    sums = {k: np.zeros(P) for k in ("drop", "queued", "ok")}
    # running = ready + starting <= max + warm pool + spot replacements in flight
    hist_width = int(2 * (rows.max_r.max() + 2) + rows.warm_size.max() + 2)
    sums["hist"] = np.zeros(P * hist_width, np.int64)  # minutes at each running-replica count
    series_r = np.empty((T, P), np.int32) if keep_series else None
    series_l = np.empty((T, P), np.float32) if keep_series else None
    prev_backlog = np.zeros(P)
    chunk = min(T, CHUNK_MIN)
    ready_b, npend_b = np.empty((chunk, P), np.int32), np.empty((chunk, P), np.int32)
    back_b, drop_b = np.empty((chunk, P)), np.empty((chunk, P))
    for c0 in range(0, T, CHUNK_MIN):
        c1 = min(T, c0 + CHUNK_MIN)
        n = c1 - c0
        up_c = _recommend(rows, c0, c1, win_lo, rows.w_up)
        dn_c = _recommend(rows, c0, c1, win_hi, rows.w_dn)
        dem_c = rows.demands[rows.d_idx, c0:c1].T * rows.gpu_factor  # (n, P) GPU requests/min
        # history buffers are reused across chunks (fresh pages each chunk cost more than the work)
        ready_h, npend_h, back_h, drop_h = ready_b[:n], npend_b[:n], back_b[:n], drop_b[:n]
        for j in range(n):
            t = c0 + j
            s = t % H
            if pend_used[s]:
                ps = pend[s]
                ready += ps
                npend -= ps
                ps.fill(0)
                pend_used[s] = False
            if wref_used[s]:
                warm += wref[s]
                np.minimum(warm, rows.warm_size, out=warm)  # the pool never exceeds its size
                wref[s].fill(0)
                wref_used[s] = False
            if term_used[s]:
                ready -= term[s]
                doomed -= term[s]
                n_doomed -= int(term[s].sum())
                term[s].fill(0)
                term_used[s] = False
            # serve this minute's demand and the backlog; drop what exceeds the timeout
            a = dem_c[j]
            np.multiply(ready, rows.mu_pm, out=cap)
            np.add(backlog, a, out=tot)
            np.minimum(tot, cap, out=tmp)
            np.subtract(tot, tmp, out=backlog)
            np.maximum(a, cap, out=tmp)
            tmp *= tfrac
            np.subtract(backlog, tmp, out=tmp)
            drop = drop_h[j]
            np.maximum(tmp, 0.0, out=drop)
            backlog -= drop
            ready_h[j] = ready
            npend_h[j] = npend
            back_h[j] = backlog
            if t in events:
                for r, slot in events[t]:
                    running = ready[r] + npend[r]
                    spot_n = math.floor(rows.share[r] * max(running - rows.committed[r], 0) + 0.5)
                    if slot < spot_n - doomed[r]:
                        doomed[r] += 1
                        n_doomed += 1
                        interruptions[r] += 1
                        term[(t + NOTICE_MIN) % H, r] += 1
                        term_used[(t + NOTICE_MIN) % H] = True
                        use_warm = warm[r] > 0
                        delay = rows.warm_steps[r] if use_warm else rows.cold[r]
                        if use_warm:
                            warm[r] -= 1
                            wref[(t + rows.cold[r]) % H, r] += 1
                            wref_used[(t + rows.cold[r]) % H] = True
                        else:
                            cold_starts[r] += 1
                        pend[(t + delay) % H, r] += 1
                        pend_used[(t + delay) % H] = True
                        npend[r] += 1
            # autoscaler
            np.add(ready, npend, out=cur)
            if n_doomed:
                cur -= doomed
            up = up_c[j]
            if any_queue:
                qhist[t % HQ] = backlog
                lagged = qhist[(t - rows.lag) % HQ, ar]
                extra = np.ceil(lagged / rows.target - 1e-9).astype(np.int64) * rows.is_queue
                up = np.minimum(up + extra, rows.max_r)
            np.multiply(cur, tol_up, out=tmp)
            want_up = np.greater(up, tmp, out=want_up_b)  # implies up > cur (cur, tol >= 0)
            if want_up.any():
                n_add = np.minimum(up - cur, rows.max_up)
                n_add *= want_up
                if any_warm:
                    k_warm = np.minimum(n_add, warm)
                    warm -= k_warm
                    pend[(t + rows.warm_steps) % H, ar] += k_warm
                    wref[(t + rows.cold) % H, ar] += k_warm
                    for dly in cold_delays:
                        wref_used[(t + dly) % H] = True
                    n_cold = n_add - k_warm
                else:
                    n_cold = n_add
                pend[(t + rows.cold) % H, ar] += n_cold
                for dly in start_delays:
                    pend_used[(t + dly) % H] = True
                npend += n_add
                cold_starts += n_cold
                np.copyto(next_dn, t + rows.cooldown, where=want_up)
            dn = dn_c[j]
            np.multiply(cur, tol_dn, out=tmp)
            want_dn = np.less(dn, tmp, out=want_dn_b)
            want_dn &= np.less_equal(next_dn, t, out=cool_b)
            if any_queue:
                want_dn &= ~want_up
            if want_dn.any():
                n_rm = np.minimum(cur - dn, ready - doomed)
                np.maximum(n_rm, 0, out=n_rm)
                n_rm *= want_dn
                ready -= n_rm
                if any_warm:
                    warm += n_rm
                    np.minimum(warm, rows.warm_size, out=warm)
                np.copyto(next_dn, t + rows.cooldown, where=n_rm > 0)
        p95 = _account(
            rows, tables, sums, c0, c1, dem_c, ready_h, npend_h, back_h, drop_h, prev_backlog
        )
        prev_backlog = back_h[-1].copy()
        if keep_series:
            series_r[c0:c1] = ready_h  # type: ignore[index]
            series_l[c0:c1] = p95  # type: ignore[index]
        if progress is not None:
            progress(c1 / T)  # share of the trace simulated, for a task's progress bar
    return _results(rows, T, sums, cold_starts, interruptions, series_r, series_l)


def simulate(
    demand_per_min: np.ndarray,
    policies: Sequence[AutoscalingPolicy],
    mix: PurchaseMix | Sequence[PurchaseMix],
    offer: InstanceOffer,
    capacity: CapacityModel,
    *,
    slo_p95_ms: float,
    random_state: int | None = None,
    request_timeout_s: float = 60.0,
    keep_series: bool = True,
    progress: Callable[[float], None] | None = None,
) -> list[SimulationResult]:
    """Simulate every policy (with one mix, or one mix per policy) over ``demand_per_min``.

    ``demand_per_min``: requests per minute (float array, one value per minute).
    Returns one :class:`SimulationResult` per policy, in order.
    """  # fmt: skip
    policies = list(policies)
    mixes = [mix] * len(policies) if isinstance(mix, PurchaseMix) else list(mix)
    if len(mixes) != len(policies):
        raise ValueError(f"got {len(mixes)} mixes for {len(policies)} policies")
    demand = np.asarray(demand_per_min, dtype=float)
    P = len(policies)
    return simulate_scenarios(
        [demand] * P, policies, mixes, [offer] * P, [capacity] * P, [slo_p95_ms] * P,
        random_state=random_state, request_timeout_s=request_timeout_s, keep_series=keep_series,
        progress=progress,
    )  # fmt: skip
