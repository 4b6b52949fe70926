"""The straightforward simulator: one policy at a time, one minute at a time, in plain Python.

It implements the semantics in :mod:`costmodels.simulator` independently (its own
window minimum/maximum, queue, warm pool and billing arithmetic) and exists to
cross-check the vectorised engine in tests and as the baseline in ``bench/simulator.py``.
Only the inputs (:func:`_prepare`), the spot interruption draws (:func:`spot_events`) and
the capacity model's latency table (:func:`latency_table`: p95 and no-queue latency for every
minute x replica count, computed once per trace, as the engine does) are shared, so the
benchmark compares the two loops, not the cost of the latency formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from costmodels.capacity import CapacityModel
from costmodels.catalog import InstanceOffer
from costmodels.results import AutoscalingPolicy, PurchaseMix, SimulationResult
from costmodels.simulation_rows import NOTICE_MIN, _prepare, _Rows, spot_events


def latency_table(rows: _Rows, r: int) -> tuple[list[list[float]], list[list[float]]]:
    """(p95, no-queue latency) in ms for every minute x replica count up to the most that
    can be ready (max replicas, warm pool and interrupted spot replicas still serving)."""
    cap = rows.caps[rows.c_idx[r]]
    width = int(2 * (rows.max_r[r] + 2) + rows.warm_size[r] + 2)
    lam = cap.gpu_arrival_rps(rows.demands[rows.d_idx[r]] / 60.0)[:, None]
    p95, svc = cap.latency_ms(lam, np.arange(width + 1)[None, :])
    return p95.tolist(), svc.tolist()


def _run_row(rows: _Rows, r: int, events: list[tuple[int, int]], tables=None) -> SimulationResult:
    demand = rows.demands[rows.d_idx[r]].tolist()
    tab_p95, tab_svc = tables if tables is not None else latency_table(rows, r)
    width = len(tab_p95[0]) - 1
    T = len(demand)
    g, k = float(rows.gpu_factor[r]), float(rows.k[r])
    lo, hi, lag = int(rows.min_r[r]), int(rows.max_r[r]), int(rows.lag[r])
    w_up, w_dn, cooldown = int(rows.w_up[r]), int(rows.w_dn[r]), int(rows.cooldown[r])
    tol, max_up, target = float(rows.tol[r]), int(rows.max_up[r]), float(rows.target[r])
    tol_out = float(rows.tol_out[r])
    cold, warm_steps, warm_size = int(rows.cold[r]), int(rows.warm_steps[r]), int(rows.warm_size[r])
    mu_pm, committed, share = float(rows.mu_pm[r]), int(rows.committed[r]), float(rows.share[r])
    timeout_s, slo = float(rows.timeout_s[r]), float(rows.slo[r])
    is_queue = bool(rows.is_queue[r])

    def raw(t: int) -> float:  # replicas' worth of load, clipped, not rounded
        return min(max(demand[max(t - lag, 0)] * k, lo), hi)

    by_t: dict[int, list[int]] = {}
    for t, slot in events:
        by_t.setdefault(t, []).append(slot)
    starting: dict[int, int] = {}  # minute -> replicas becoming ready
    refill: dict[int, int] = {}  # minute -> warm-pool instances becoming available again
    ending: dict[int, int] = {}  # minute -> interrupted spot replicas terminated
    ready, pending, doomed, warm = math.ceil(raw(0) - 1e-9), 0, 0, warm_size
    backlog, last_evt = 0.0, -(10**9)
    backlog_hist: list[float] = []
    cold_starts = interruptions = 0
    spot_min = od_min = run_min = dropped = queued = requests = 0.0
    ok = 0
    replicas_series, p95_series, running_series = [], [], []
    prev_backlog = 0.0
    for t in range(T):
        n = starting.pop(t, 0)
        ready += n
        pending -= n
        warm = min(warm + refill.pop(t, 0), warm_size)
        n = ending.pop(t, 0)
        ready -= n
        doomed -= n
        a = demand[t] * g
        cap = ready * mu_pm
        total = backlog + a
        backlog = total - min(total, cap)
        drop = max(backlog - max(a, cap) * (timeout_s / 60.0), 0.0)
        backlog -= drop
        running = ready + pending
        # billing and outcomes of this minute
        over = max(running - committed, 0)
        spot_n = math.floor(share * over + 0.5)
        spot_min += spot_n
        od_min += over - spot_n
        run_min += running
        running_series.append(running)
        dropped += drop
        queued += backlog
        requests += a
        p95 = tab_p95[t][min(ready, width)]
        worst = max(prev_backlog, backlog)
        if worst > 0 or not math.isfinite(p95):
            svc = tab_svc[t][min(ready, width)]
            p95 = min(svc + 60000.0 * worst / max(cap, 1e-9), timeout_s * 1000.0)
        if drop > 0:
            p95 = timeout_s * 1000.0
        if a <= 0 and backlog <= 0:
            p95 = 0.0
        ok += p95 <= slo
        prev_backlog = backlog
        replicas_series.append(ready)
        p95_series.append(p95)
        backlog_hist.append(backlog)
        # spot interruption notices
        for slot in by_t.get(t, []):
            spot_now = math.floor(share * max(ready + pending - committed, 0) + 0.5)
            if slot < spot_now - doomed:
                doomed += 1
                interruptions += 1
                ending[t + NOTICE_MIN] = ending.get(t + NOTICE_MIN, 0) + 1
                if warm > 0:
                    warm -= 1
                    refill[t + cold] = refill.get(t + cold, 0) + 1
                    starting[t + warm_steps] = starting.get(t + warm_steps, 0) + 1
                else:
                    cold_starts += 1
                    starting[t + cold] = starting.get(t + cold, 0) + 1
                pending += 1
        # autoscaler
        current = ready + pending - doomed
        up = min(raw(u) for u in range(t - w_up, t + 1))
        if is_queue:
            lagged = backlog_hist[t - lag] if t - lag >= 0 else 0.0
            up = min(up + lagged / target, hi)
        # HPA: act only when the usage ratio leaves the tolerance, then round up
        scaled_up = up > current and up > current * (1.0 + tol_out)
        if scaled_up:
            n_add = min(math.ceil(up - 1e-9) - current, max_up)
            from_warm = min(n_add, warm)
            warm -= from_warm
            starting[t + warm_steps] = starting.get(t + warm_steps, 0) + from_warm
            starting[t + cold] = starting.get(t + cold, 0) + n_add - from_warm
            refill[t + cold] = refill.get(t + cold, 0) + from_warm
            pending += n_add
            cold_starts += n_add - from_warm
            last_evt = t
        down = max(raw(u) for u in range(t - w_dn, t + 1))
        if not scaled_up and down < current * (1.0 - tol) and t - last_evt >= cooldown:
            n_rm = max(min(current - math.ceil(down - 1e-9), ready - doomed), 0)
            if n_rm > 0:
                ready -= n_rm
                warm = min(warm + n_rm, warm_size)
                last_evt = t
    cost = {
        "committed": committed * float(rows.price_commit[r]) * T / 60.0,
        "ondemand": od_min * float(rows.price_od[r]) / 60.0,
        "spot": spot_min * float(rows.price_spot[r]) / 60.0,
        "warm_pool": warm_size * float(rows.warm_frac[r]) * float(rows.price_od[r]) * T / 60.0,
    }
    return SimulationResult(
        policy=rows.policies[r],
        mix=rows.mixes[r],
        minutes=T,
        cost_usd_by_category=cost,
        total_cost_usd=sum(cost.values()),
        slo_p95_ms=slo,
        slo_attainment=ok / T,
        requests=requests,
        dropped_requests=dropped,
        queued_requests=queued,
        replica_minutes=run_min,
        cold_starts=cold_starts,
        spot_interruptions=interruptions,
        replicas=np.array(replicas_series),
        p95_latency_ms=np.array(p95_series),
        running_replicas_histogram=np.bincount(np.array(running_series, dtype=np.int64)),
        demand_per_min=rows.demands[rows.d_idx[r]],
    )


def simulate_reference(
    demand_per_min: np.ndarray,
    policies: Sequence[AutoscalingPolicy],
    mix: PurchaseMix | Sequence[PurchaseMix],
    offer: InstanceOffer,
    capacity: CapacityModel,
    *,
    slo_p95_ms: float,
    random_state: int | None = None,
    request_timeout_s: float = 60.0,
) -> list[SimulationResult]:
    """Same inputs and results as :func:`costmodels.simulator.simulate`, computed naively."""
    policies = list(policies)
    mixes = [mix] * len(policies) if isinstance(mix, PurchaseMix) else list(mix)
    demand = np.asarray(demand_per_min, dtype=float)
    P = len(policies)
    rows = _prepare(
        [demand] * P,
        policies,
        mixes,
        [offer] * P,
        [capacity] * P,
        [slo_p95_ms] * P,
        [request_timeout_s] * P,
    )
    events = spot_events(rows, demand.size, random_state)
    per_row: dict[int, list[tuple[int, int]]] = {}
    for t in sorted(events):
        for r, slot in events[t]:
            per_row.setdefault(r, []).append((t, slot))
    tables: dict[int, tuple] = {}  # one table per width (same trace and capacity model)
    out = []
    for r in range(P):
        width = int(2 * (rows.max_r[r] + 2) + rows.warm_size[r] + 2)
        if width not in tables:
            tables[width] = latency_table(rows, r)
        out.append(_run_row(rows, r, per_row.get(r, []), tables[width]))
    return out
