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
   (``cold_start_s``) -- or stops them (after the cooldown).

So a demand step at ``t0`` is served by new replicas from ``t0 + poll + up window + start``
(each rounded up to whole minutes). Billing: every running instance (ready or starting)
each minute; ``committed_replicas`` always, at the commitment price; the rest split
``spot_share`` spot / on-demand; warm-pool instances at ``warm_pool_cost_fraction`` of
on-demand. Per-minute p95 latency comes from the capacity model's queueing formula, or
from the backlog drain time when replicas are overloaded (capped at the timeout).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from costmodels.capacity import CapacityModel
from costmodels.catalog import InstanceOffer
from costmodels.results import METRICS, AutoscalingPolicy, PurchaseMix, SimulationResult

__all__ = ["AutoscalingPolicy", "PurchaseMix", "SimulationResult", "simulate", "simulate_scenarios"]

NOTICE_MIN = 2  # spot interruption notice, minutes
CHUNK_MIN = 1440


def _steps(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60.0 - 1e-9))


@dataclass
class _Rows:
    """Per-row (policy x mix x service) parameters as arrays of length P."""

    demands: np.ndarray  # (D, T) requests per minute
    d_idx: np.ndarray
    caps: list[CapacityModel]
    c_idx: np.ndarray
    policies: list[AutoscalingPolicy]
    mixes: list[PurchaseMix]
    gpu_factor: np.ndarray  # 1 - cache hit rate
    k: np.ndarray  # replicas recommended per request/min of demand
    is_queue: np.ndarray
    target: np.ndarray
    min_r: np.ndarray
    max_r: np.ndarray
    lag: np.ndarray
    w_up: np.ndarray
    w_dn: np.ndarray
    cooldown: np.ndarray
    max_up: np.ndarray
    warm_size: np.ndarray
    tol: np.ndarray
    cold: np.ndarray
    warm_steps: np.ndarray
    mu_pm: np.ndarray  # requests per minute per ready replica
    committed: np.ndarray
    share: np.ndarray
    price_od: np.ndarray
    price_spot: np.ndarray
    price_commit: np.ndarray
    warm_frac: np.ndarray
    p_int: np.ndarray  # interruption probability per spot replica-minute
    slo: np.ndarray
    timeout_s: np.ndarray


def _prepare(demands, policies, mixes, offers, caps, slos, timeouts) -> _Rows:
    dem_ids: dict[int, int] = {}
    dem_list: list[np.ndarray] = []
    d_idx = []
    for i, d in enumerate(demands):
        if id(d) not in dem_ids:
            arr = np.asarray(d, dtype=float)
            if arr.ndim != 1 or arr.size == 0:
                raise ValueError(f"scenario {i}: demand_per_min must be a non-empty 1-D array")
            bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
            if bad.size:
                raise ValueError(
                    f"scenario {i}: demand_per_min[{bad[0]}] = {arr[bad[0]]!r} is not >= 0"
                )
            if dem_list and arr.size != dem_list[0].size:
                raise ValueError("all demand traces in one simulation must have the same length")
            dem_ids[id(d)] = len(dem_list)
            dem_list.append(arr)
        d_idx.append(dem_ids[id(d)])
    cap_ids: dict[int, int] = {}
    cap_list: list[CapacityModel] = []
    for c in caps:
        if id(c) not in cap_ids:
            if not hasattr(c, "throughput_rps_"):
                raise ValueError(
                    "capacity model is not fitted: call CapacityModel(...).fit() first"
                )
            cap_ids[id(c)] = len(cap_list)
            cap_list.append(c)
    c_idx = np.array([cap_ids[id(c)] for c in caps])
    f = lambda xs: np.array(xs, dtype=float)  # noqa: E731
    for i, (m, o) in enumerate(zip(mixes, offers, strict=True)):
        if m.spot_share > 0 and o.spot_usd_per_hour is None:
            raise ValueError(
                f"scenario {i}: spot_share > 0 but {o.instance_type} has no spot price"
            )
        if m.committed_replicas > 0 and o.commit_usd_per_hour(m.commitment_term) is None:
            raise ValueError(
                f"scenario {i}: {o.instance_type} has no {m.commitment_term} commitment price"
            )
    gpu_factor = f([1.0 - c.cache_hit_rate for c in caps])
    mu = f([c.throughput_rps_ for c in caps])
    per_metric = {
        "requests_per_replica": lambda c, p: 1.0 / 60.0 / p.target,
        "gpu_utilisation": lambda c, p: 1.0 / 60.0 / (c.throughput_rps_ * p.target / 100.0),
        "concurrency": lambda c, p: c.batch_time_ms_ / 1000.0 / 60.0 / p.target,
        "queue_length": lambda c, p: c.batch_time_ms_ / 1000.0 / 60.0 / p.target,
    }
    k = f([per_metric[p.metric](c, p) for c, p in zip(caps, policies, strict=True)]) * gpu_factor
    i32 = lambda xs: np.array(xs, dtype=np.int64)  # noqa: E731
    return _Rows(
        demands=np.vstack(dem_list), d_idx=np.array(d_idx), caps=cap_list, c_idx=c_idx,
        policies=list(policies), mixes=list(mixes), gpu_factor=gpu_factor, k=k,
        is_queue=np.array([p.metric == METRICS[3] for p in policies]),
        target=f([p.target for p in policies]),
        min_r=i32([p.min_replicas for p in policies]), max_r=i32([p.max_replicas for p in policies]),
        lag=i32([_steps(p.polling_interval_s) for p in policies]),
        w_up=i32([math.ceil(p.scale_up_stabilisation_s / 60 - 1e-9) for p in policies]),
        w_dn=i32([math.ceil(p.scale_down_stabilisation_s / 60 - 1e-9) for p in policies]),
        cooldown=i32([math.ceil(p.cooldown_s / 60 - 1e-9) for p in policies]),
        max_up=i32([p.max_scale_up_replicas_per_min for p in policies]),
        warm_size=i32([p.warm_pool for p in policies]), tol=f([p.tolerance for p in policies]),
        cold=i32([_steps(c.cold_start_s_) for c in caps]),
        warm_steps=i32([_steps(c.warm_start_s_) for c in caps]),
        mu_pm=mu * 60.0,
        committed=i32([m.committed_replicas for m in mixes]), share=f([m.spot_share for m in mixes]),
        price_od=f([o.ondemand_usd_per_hour for o in offers]),
        price_spot=f([o.spot_usd_per_hour or 0.0 for o in offers]),
        price_commit=f([o.commit_usd_per_hour(m.commitment_term) or 0.0 for o, m in zip(offers, mixes, strict=True)]),
        warm_frac=f([p.warm_pool_cost_fraction for p in policies]),
        p_int=f([o.spot_interruption_rate_per_hour() / 60.0 for o in offers]),
        slo=f(slos), timeout_s=f(timeouts),
    )  # fmt: skip


def spot_events(rows: _Rows, T: int, random_state: int | None) -> dict[int, list[tuple[int, int]]]:
    """Candidate interruption notices {minute: [(row, replica slot), ...]}.

    Each row draws from its own stream (``SeedSequence(random_state).spawn``), a Poisson
    process per replica slot up to ``max_replicas + 2``; a notice hits a spot replica at
    minute ``t`` only if its slot is below the number of spot replicas then running.
    """
    P = len(rows.policies)
    streams = np.random.SeedSequence(random_state).spawn(P)
    events: dict[int, list[tuple[int, int]]] = {}
    for r in range(P):
        if rows.share[r] <= 0 or rows.p_int[r] <= 0:
            continue
        rng = np.random.default_rng(streams[r])
        slots = int(rows.max_r[r]) + 2
        n = rng.poisson(rows.p_int[r] * slots * T)
        ts = rng.integers(0, T, n)
        ks = rng.integers(0, slots, n)
        for t, kk in sorted(zip(ts.tolist(), ks.tolist(), strict=True)):
            events.setdefault(t, []).append((r, kk))
    for lst in events.values():
        lst.sort()
    return events


def raw_recommendations(rows: _Rows, t0: int, t1: int) -> np.ndarray:
    """Replica recommendations (time x rows) for minutes [t0, t1) from lagged demand."""
    t = np.arange(t0, t1)[:, None] - rows.lag[None, :]
    d = rows.demands[rows.d_idx[None, :], np.clip(t, 0, None)]
    raw = np.ceil(d * rows.k[None, :] - 1e-9).astype(np.int64)
    return np.clip(raw, rows.min_r, rows.max_r)


def _stabilised(rows: _Rows, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
    wmax = int(max(rows.w_up.max(), rows.w_dn.max()))
    raw = raw_recommendations(rows, t0 - wmax, t1)
    up = np.empty((t1 - t0, raw.shape[1]), np.int64)
    dn = np.empty_like(up)
    for win, out, filt in ((rows.w_up, up, minimum_filter1d), (rows.w_dn, dn, maximum_filter1d)):
        for w in np.unique(win):
            cols = np.flatnonzero(win == w)
            sub = raw[:, cols]
            if w > 0:
                sub = filt(sub, int(w) + 1, axis=0, origin=int(w) // 2, mode="nearest")
            out[:, cols] = sub[wmax:]
    return up, dn


def _latency_tables(rows: _Rows, T: int) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    """p95 and no-queue latency (ms) per (demand row, capacity) for every minute x replicas."""
    tables = {}
    for key in sorted(set(zip(rows.d_idx.tolist(), rows.c_idx.tolist(), strict=True))):
        d, c = key
        cols = np.flatnonzero((rows.d_idx == d) & (rows.c_idx == c))
        cap = rows.caps[c]
        maxc = int(rows.max_r[cols].max() + rows.warm_size[cols].max() + 2)
        lam = cap.gpu_arrival_rps(rows.demands[d] / 60.0)[:, None]
        reps = np.arange(maxc + 1)[None, :]
        tables[key] = (cap.p95_latency_ms(lam, reps), cap.service_latency_ms(lam, reps))
    return tables


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
) -> list[SimulationResult]:
    """Simulate P independent scenarios at once (row i = demands[i] x policies[i] x ...).

    Demand traces are shared by identity (pass the same array object to share work); all
    must have the same length. See the module docstring for the semantics.
    """  # fmt: skip
    P = len(policies)
    timeouts = (
        [request_timeout_s] * P if np.isscalar(request_timeout_s) else list(request_timeout_s)
    )  # type: ignore[arg-type]
    rows = _prepare(demands, policies, mixes, offers, capacities, slo_p95_ms, timeouts)
    T = rows.demands.shape[1]
    events = spot_events(rows, T, random_state)
    tables = _latency_tables(rows, T)
    ar = np.arange(P)
    H = int(max(rows.cold.max(), rows.warm_steps.max(), NOTICE_MIN) + 1)
    pend = np.zeros((H, P), np.int64)
    wref = np.zeros((H, P), np.int64)
    term = np.zeros((H, P), np.int64)
    init = raw_recommendations(rows, 0, 1)[0]  # start in steady state for demand[0]
    ready, npend, doomed = init.copy(), np.zeros(P, np.int64), np.zeros(P, np.int64)
    warm = rows.warm_size.copy()
    backlog = np.zeros(P)
    last_evt = np.full(P, -(10**9), np.int64)
    HQ = int(rows.lag.max() + 1)
    qhist = np.zeros((HQ, P))  # backlog ring for queue-length metrics
    any_queue = bool(rows.is_queue.any())
    tfrac = rows.timeout_s / 60.0
    cold_starts = np.zeros(P, np.int64)
    interruptions = np.zeros(P, np.int64)
    sums = {k: np.zeros(P) for k in ("spot_n", "od_n", "run", "drop", "queued", "req", "ok")}
    series_r = np.empty((T, P), np.int32, order="F") if keep_series else None
    series_l = np.empty((T, P), np.float32, order="F") if keep_series else None
    prev_backlog = np.zeros(P)
    for c0 in range(0, T, CHUNK_MIN):
        c1 = min(T, c0 + CHUNK_MIN)
        n = c1 - c0
        up_c, dn_c = _stabilised(rows, c0, c1)
        dem_c = rows.demands[rows.d_idx, c0:c1].T * rows.gpu_factor  # (n, P) GPU-bound requests/min
        ready_h = np.empty((n, P), np.int64)
        run_h = np.empty((n, P), np.int64)
        back_h = np.empty((n, P))
        drop_h = np.empty((n, P))
        for j in range(n):
            t = c0 + j
            s = t % H
            ready += pend[s]
            npend -= pend[s]
            pend[s] = 0
            warm = np.minimum(warm + wref[s], rows.warm_size)  # the pool never exceeds its size
            wref[s] = 0
            ready -= term[s]
            doomed -= term[s]
            term[s] = 0
            a = dem_c[j]
            cap = ready * rows.mu_pm
            tot = backlog + a
            backlog = tot - np.minimum(tot, cap)
            drop = np.maximum(backlog - np.maximum(a, cap) * tfrac, 0.0)
            backlog -= drop
            ready_h[j] = ready
            run_h[j] = ready + npend
            back_h[j] = backlog
            drop_h[j] = drop
            if t in events:
                for r, slot in events[t]:
                    running = ready[r] + npend[r]
                    spot_n = math.floor(rows.share[r] * max(running - rows.committed[r], 0) + 0.5)
                    if slot < spot_n - doomed[r]:
                        doomed[r] += 1
                        interruptions[r] += 1
                        term[(t + NOTICE_MIN) % H, r] += 1
                        use_warm = warm[r] > 0
                        delay = rows.warm_steps[r] if use_warm else rows.cold[r]
                        if use_warm:
                            warm[r] -= 1
                            wref[(t + rows.cold[r]) % H, r] += 1
                        else:
                            cold_starts[r] += 1
                        pend[(t + delay) % H, r] += 1
                        npend[r] += 1
            cur = ready + npend - doomed
            up = up_c[j]
            if any_queue:
                qhist[t % HQ] = backlog
                lagged = qhist[(t - rows.lag) % HQ, ar]
                extra = np.ceil(lagged / rows.target - 1e-9).astype(np.int64) * rows.is_queue
                up = np.minimum(up + extra, rows.max_r)
            want_up = (up > cur) & (up > cur * (1.0 + rows.tol))
            if want_up.any():
                n_add = np.where(want_up, np.minimum(up - cur, rows.max_up), 0)
                k_warm = np.minimum(n_add, warm)
                n_cold = n_add - k_warm
                warm -= k_warm
                pend[(t + rows.warm_steps) % H, ar] += k_warm
                pend[(t + rows.cold) % H, ar] += n_cold
                wref[(t + rows.cold) % H, ar] += k_warm
                npend += n_add
                cold_starts += n_cold
                last_evt[want_up] = t
            dn = dn_c[j]
            want_dn = ~want_up & (dn < cur * (1.0 - rows.tol)) & (t - last_evt >= rows.cooldown)
            if want_dn.any():
                n_rm = np.where(want_dn, np.clip(np.minimum(cur - dn, ready - doomed), 0, None), 0)
                ready -= n_rm
                warm = np.minimum(warm + n_rm, rows.warm_size)
                last_evt[n_rm > 0] = t
        # -- per-chunk accounting, vectorised over (minutes x rows) ------------------------
        over = np.maximum(run_h - rows.committed, 0)
        spot_n = np.floor(rows.share * over + 0.5)
        sums["spot_n"] += spot_n.sum(0)
        sums["od_n"] += (over - spot_n).sum(0)
        sums["run"] += run_h.sum(0)
        sums["drop"] += drop_h.sum(0)
        sums["queued"] += back_h.sum(0)
        sums["req"] += dem_c.sum(0)
        p95 = np.empty((n, P))
        tt = np.arange(c0, c1)[:, None]
        for (d, c), (tab_p95, tab_svc) in tables.items():
            cols = np.flatnonzero((rows.d_idx == d) & (rows.c_idx == c))
            reps = np.minimum(ready_h[:, cols], tab_p95.shape[1] - 1)
            p95[:, cols] = tab_p95[tt, reps]
            back_prev = np.vstack([prev_backlog[None, cols], back_h[:-1, cols]])
            worst = np.maximum(back_prev, back_h[:, cols])
            capm = ready_h[:, cols] * rows.mu_pm[cols]
            drain = tab_svc[tt, np.maximum(reps, 1)] + 60000.0 * worst / np.maximum(capm, 1e-9)
            over_q = (worst > 0) | ~np.isfinite(p95[:, cols])
            p95[:, cols] = np.where(
                over_q, np.minimum(drain, rows.timeout_s[cols] * 1000.0), p95[:, cols]
            )
        p95 = np.where(drop_h > 0, rows.timeout_s * 1000.0, p95)
        p95 = np.where((dem_c <= 0) & (back_h <= 0), 0.0, p95)
        prev_backlog = back_h[-1].copy()
        sums["ok"] += (p95 <= rows.slo).sum(0)
        if keep_series:
            series_r[c0:c1] = ready_h  # type: ignore[index]
            series_l[c0:c1] = p95  # type: ignore[index]
    return _results(rows, T, sums, cold_starts, interruptions, series_r, series_l)


def _results(
    rows, T, sums, cold_starts, interruptions, series_r, series_l
) -> list[SimulationResult]:
    out = []
    empty = np.empty(0)
    for i, (pol, mix) in enumerate(zip(rows.policies, rows.mixes, strict=True)):
        cost = {
            "committed": rows.committed[i] * rows.price_commit[i] * T / 60.0,
            "ondemand": sums["od_n"][i] * rows.price_od[i] / 60.0,
            "spot": sums["spot_n"][i] * rows.price_spot[i] / 60.0,
            "warm_pool": rows.warm_size[i] * rows.warm_frac[i] * rows.price_od[i] * T / 60.0,
        }
        cost = {k: float(v) for k, v in cost.items()}
        out.append(
            SimulationResult(
                policy=pol, mix=mix, minutes=T, cost_usd_by_category=cost,
                total_cost_usd=float(sum(cost.values())), slo_p95_ms=float(rows.slo[i]),
                slo_attainment=float(sums["ok"][i] / T), requests=float(sums["req"][i]),
                dropped_requests=float(sums["drop"][i]), queued_requests=float(sums["queued"][i]),
                replica_minutes=float(sums["run"][i]), cold_starts=int(cold_starts[i]),
                spot_interruptions=int(interruptions[i]),
                replicas=series_r[:, i] if series_r is not None else empty,
                p95_latency_ms=series_l[:, i] if series_l is not None else empty,
                demand_per_min=rows.demands[rows.d_idx[i]],
            )
        )  # fmt: skip
    return out


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
    )  # fmt: skip
