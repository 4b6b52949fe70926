"""Scenario rows for the simulator: inputs as per-row arrays, spot draws, autoscaler
recommendations, latency tables and the per-chunk accounting (see costmodels.simulator)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from costmodels.capacity import CapacityModel
from costmodels.results import METRICS, AutoscalingPolicy, PurchaseMix, SimulationResult

NOTICE_MIN = 2  # spot interruption notice, minutes


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
    tol_out: np.ndarray  # scale-out tolerance
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
        tol_out=f([p.tolerance if p.scale_out_tolerance is None else p.scale_out_tolerance for p in policies]),
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


def _recommend(
    rows: _Rows, t0: int, t1: int, source: dict[tuple[int, int], np.ndarray], win: np.ndarray
) -> np.ndarray:
    """Lagged demand x k (replicas' worth of load, not rounded) clipped to [min, max], for
    minutes [t0, t1) (time x rows); the autoscaler compares it with the current replicas
    (tolerance) before rounding up, as the HPA does."""
    out = np.empty((t1 - t0, len(rows.policies)))
    keys = zip(rows.d_idx.tolist(), rows.lag.tolist(), win.tolist(), strict=True)
    for d, lag, w in sorted(set(keys)):
        cols = np.flatnonzero((rows.d_idx == d) & (rows.lag == lag) & (win == w))
        x = source[(d, w)][np.clip(np.arange(t0 - lag, t1 - lag), 0, None)]
        out[:, cols] = x[:, None] * rows.k[cols]
    np.maximum(out, rows.min_r, out=out)
    np.minimum(out, rows.max_r, out=out)
    return out


def raw_recommendations(rows: _Rows, t0: int, t1: int) -> np.ndarray:
    """Replica recommendations (time x rows) for minutes [t0, t1) from lagged demand."""
    zero = np.zeros(len(rows.policies), np.int64)
    x = _recommend(rows, t0, t1, {(d, 0): rows.demands[d] for d in set(rows.d_idx.tolist())}, zero)
    return np.ceil(x - 1e-9).astype(np.int64)


def _window_sources(rows: _Rows) -> tuple[dict, dict]:
    """Trailing window minimum / maximum of each demand trace for each window length.

    The recommendation is a non-decreasing function of demand, so the lowest (highest)
    recommendation over a window is the recommendation of the window's lowest (highest)
    demand: one 1-D filter per (trace, window) instead of one per row.
    """
    lo: dict[tuple[int, int], np.ndarray] = {}
    hi: dict[tuple[int, int], np.ndarray] = {}
    for src, win, filt in ((lo, rows.w_up, minimum_filter1d), (hi, rows.w_dn, maximum_filter1d)):
        for d, w in set(zip(rows.d_idx.tolist(), win.tolist(), strict=True)):
            x = rows.demands[d]
            src[(d, w)] = filt(x, w + 1, origin=w // 2, mode="nearest") if w > 0 else x
    return lo, hi


def _latency_tables(
    rows: _Rows, T: int
) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray] | None]:
    """p95 and no-queue latency (ms) per (demand row, capacity) for every minute x replica
    count, where tabulating is cheaper than evaluating each row (None: evaluate directly)."""
    tables: dict[tuple[int, int], tuple[np.ndarray, np.ndarray] | None] = {}
    for key in sorted(set(zip(rows.d_idx.tolist(), rows.c_idx.tolist(), strict=True))):
        d, c = key
        cols = np.flatnonzero((rows.d_idx == d) & (rows.c_idx == c))
        cap = rows.caps[c]
        maxc = int(rows.max_r[cols].max() + rows.warm_size[cols].max() + 2)
        if cols.size < maxc + 1:
            tables[key] = None
            continue
        lam = cap.gpu_arrival_rps(rows.demands[d] / 60.0)[:, None]
        tables[key] = cap.latency_ms(lam, np.arange(maxc + 1)[None, :])
    return tables


def _account(rows, tables, sums, c0, c1, dem_c, ready_h, npend_h, back_h, drop_h, prev_backlog):
    """Billing sums and per-minute p95 latency for one chunk, vectorised over minutes x rows."""
    # billing needs only how many minutes each row ran k instances (see _results)
    run_h = ready_h + npend_h
    n, P = ready_h.shape
    width = sums["hist"].size // P
    if run_h.max() >= width:
        raise RuntimeError("simulator: running replicas exceeded the histogram width")
    run_h += np.arange(P, dtype=np.int32) * width
    sums["hist"] += np.bincount(run_h.ravel(), minlength=sums["hist"].size)
    sums["drop"] += drop_h.sum(0)
    sums["queued"] += back_h.sum(0)
    p95 = np.empty((n, P)) if len(tables) > 1 else np.empty((0, 0))
    # overloaded minutes: a backlog (now or carried in) drains at the replicas' capacity
    worst = back_h.copy()
    np.maximum(worst[1:], back_h[:-1], out=worst[1:])
    np.maximum(worst[0], prev_backlog, out=worst[0])
    minutes = np.arange(c0, c1)[:, None]
    for (d, c), tab in tables.items():
        cols = np.flatnonzero((rows.d_idx == d) & (rows.c_idx == c))
        sel = slice(None) if cols.size == P else cols  # one group: no column copies
        if tab is None:  # few rows: evaluate the latency formula for each row and minute
            lam = rows.caps[c].gpu_arrival_rps(rows.demands[d, c0:c1] / 60.0)[:, None]
            sub, svc_all = rows.caps[c].latency_ms(lam, ready_h[:, sel])
            i, kk = np.nonzero((worst[:, sel] > 0) | np.isinf(sub))
            svc = svc_all[i, kk]
        else:
            tab_p95, tab_svc = tab
            width = tab_p95.shape[1]
            reps = np.minimum(ready_h[:, sel], width - 1)
            reps += minutes * width  # flat index into the (minute, replicas) table
            sub = np.take(tab_p95, reps)
            i, kk = np.nonzero((worst[:, sel] > 0) | np.isinf(sub))
            svc = np.take(tab_svc, reps[i, kk])
        k = cols[kk]
        capm = np.maximum(ready_h[i, k] * rows.mu_pm[k], 1e-9)
        sub[i, kk] = np.minimum(svc + 60000.0 * worst[i, k] / capm, rows.timeout_s[k] * 1000.0)
        if cols.size == P:
            p95 = sub
        else:
            p95[:, cols] = sub
    if drop_h.any():
        i, k = np.nonzero(drop_h > 0)
        p95[i, k] = rows.timeout_s[k] * 1000.0
    for d in np.unique(rows.d_idx):  # minutes without requests (nor backlog) meet any SLO
        idle = np.flatnonzero(rows.demands[d, c0:c1] <= 0)
        if idle.size:
            cols = np.flatnonzero(rows.d_idx == d)
            block = np.ix_(idle, cols)
            p95[block] = np.where(back_h[block] <= 0, 0.0, p95[block])
    sums["ok"] += (p95 <= rows.slo).sum(0)
    return p95


def _results(
    rows, T, sums, cold_starts, interruptions, series_r, series_l
) -> list[SimulationResult]:
    out = []
    empty = np.empty(0)
    hist = sums["hist"].reshape(len(rows.policies), -1)
    k = np.arange(hist.shape[1])[None, :]
    over = np.maximum(k - rows.committed[:, None], 0)
    spot_k = np.floor(rows.share[:, None] * over + 0.5)  # spot instances when k are running
    spot_n = (hist * spot_k).sum(1)
    od_n = (hist * (over - spot_k)).sum(1)
    run = (hist * k).sum(1)
    req = rows.demands.sum(1)[rows.d_idx] * rows.gpu_factor
    for i, (pol, mix) in enumerate(zip(rows.policies, rows.mixes, strict=True)):
        cost = {
            "committed": rows.committed[i] * rows.price_commit[i] * T / 60.0,
            "ondemand": od_n[i] * rows.price_od[i] / 60.0,
            "spot": spot_n[i] * rows.price_spot[i] / 60.0,
            "warm_pool": rows.warm_size[i] * rows.warm_frac[i] * rows.price_od[i] * T / 60.0,
        }
        cost = {k: float(v) for k, v in cost.items()}
        out.append(
            SimulationResult(
                policy=pol,
                mix=mix,
                minutes=T,
                cost_usd_by_category=cost,
                total_cost_usd=float(sum(cost.values())),
                slo_p95_ms=float(rows.slo[i]),
                slo_attainment=float(sums["ok"][i] / T),
                requests=float(req[i]),
                dropped_requests=float(sums["drop"][i]),
                queued_requests=float(sums["queued"][i]),
                replica_minutes=float(run[i]),
                cold_starts=int(cold_starts[i]),
                running_replicas_histogram=hist[i],
                spot_interruptions=int(interruptions[i]),
                replicas=series_r[:, i] if series_r is not None else empty,
                p95_latency_ms=series_l[:, i] if series_l is not None else empty,
                demand_per_min=rows.demands[rows.d_idx[i]],
            )
        )
    return out
