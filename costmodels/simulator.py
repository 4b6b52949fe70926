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
4. the autoscaler reads its metric as of one polling interval ago as ``x`` = metric total /
   per-replica target (replicas' worth of load, clipped to [min, max]; for
   ``queue_length`` the requests then waiting count too), takes the lowest (scale-up) or
   highest (scale-down) ``x`` of the stabilisation window and, as the HPA does
   (desired = ceil(current x metric / target) unless the usage ratio ``x / current`` is
   within ``1 +- tolerance``), starts ``ceil(x) - current`` replicas -- from the warm pool (``warm_start_s``) first, then cold
   (``cold_start_s``) -- or stops them (after the cooldown; they stop serving from
   ``t + 1``, and return to the warm pool if it is below its size).

So a demand step at ``t0`` is served by new replicas from ``t0 + poll + up window + start``
(each rounded up to whole minutes); a drop is followed by fewer replicas from
``t0 + poll + down window + 1``. Replicas start at the steady state for ``demand[0]``.
Billing: every running instance (ready or starting) each minute; ``committed_replicas`` always, at the commitment price; the rest split
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
    _Rows,
    _window_sources,
    raw_recommendations,
    spot_events,
)

__all__ = ["AutoscalingPolicy", "PurchaseMix", "SimulationResult", "simulate", "simulate_scenarios"]
CHUNK_MIN = 1440


class _Engine:
    """The state of P scenarios stepped one minute at a time (see the module docstring).

    One minute is :meth:`arrive` (replicas become ready, warm instances return, interrupted
    spot replicas end), :meth:`serve`, :meth:`spot_notices`, then the autoscaler's
    :meth:`scale_up` and :meth:`scale_down`. Event rings are indexed by ``t % H``.
    """

    def __init__(self, rows: _Rows, T: int, random_state: int | None, keep_series: bool):
        P = len(rows.policies)
        self.rows, self.T, self.P = rows, T, P
        self.events = spot_events(rows, T, random_state)
        self.ar = np.arange(P)
        H = self.H = int(max(rows.cold.max(), rows.warm_steps.max(), NOTICE_MIN) + 1)
        self.pend = np.zeros((H, P), np.int64)  # replicas becoming ready at minute t
        self.wref = np.zeros((H, P), np.int64)  # warm-pool instances available again at t
        self.term = np.zeros((H, P), np.int64)  # interrupted spot replicas terminated at t
        self.pend_used, self.wref_used, self.term_used = [False] * H, [False] * H, [False] * H
        self.start_delays = sorted(set(rows.cold.tolist()) | set(rows.warm_steps.tolist()))
        self.cold_delays = sorted(set(rows.cold.tolist()))
        self.ready = raw_recommendations(rows, 0, 1)[0].copy()  # steady state for demand[0]
        self.npend, self.doomed = np.zeros(P, np.int64), np.zeros(P, np.int64)
        self.n_doomed = 0
        self.warm = rows.warm_size.copy()
        self.any_warm = bool(rows.warm_size.any())
        self.backlog, self.tot, self.tmp, self.cap = (
            np.zeros(P),
            np.empty(P),
            np.empty(P),
            np.empty(P),
        )
        self.cur = np.empty(P, np.int64)
        self.want_up_b, self.want_dn_b, self.cool_b = (np.empty(P, bool) for _ in range(3))
        self.next_dn = np.full(P, -(10**9), np.int64)  # first minute a scale-down is allowed
        self.HQ = int(rows.lag.max() + 1)
        self.qhist = np.zeros((self.HQ, P))  # backlog ring for queue-length metrics
        self.any_queue = bool(rows.is_queue.any())
        self.tfrac = rows.timeout_s / 60.0
        self.tol_up, self.tol_dn = 1.0 + rows.tol_out, 1.0 - rows.tol
        self.cold_starts = np.zeros(P, np.int64)
        self.interruptions = np.zeros(P, np.int64)
        self.sums = {k: np.zeros(P) for k in ("drop", "queued", "ok")}
        # running = ready + starting <= max + warm pool + spot replacements in flight
        width = int(2 * (rows.max_r.max() + 2) + rows.warm_size.max() + 2)
        self.sums["hist"] = np.zeros(P * width, np.int64)  # minutes at each running count
        self.series_r = np.empty((T, P), np.int32) if keep_series else None
        self.series_l = np.empty((T, P), np.float32) if keep_series else None
        self.prev_backlog = np.zeros(P)
        n = min(T, CHUNK_MIN)  # per-chunk history, reused across chunks
        self.ready_b, self.npend_b = np.empty((n, P), np.int32), np.empty((n, P), np.int32)
        self.back_b, self.drop_b = np.empty((n, P)), np.empty((n, P))

    def _book(self, ring: np.ndarray, used: list[bool], t: int, r: int) -> None:
        s = t % self.H
        ring[s, r] += 1
        used[s] = True

    def arrive(self, t: int) -> None:
        """Starts that complete, warm instances returning, interrupted replicas ending."""
        s = t % self.H
        if self.pend_used[s]:
            ps = self.pend[s]
            self.ready += ps
            self.npend -= ps
            ps.fill(0)
            self.pend_used[s] = False
        if self.wref_used[s]:
            self.warm += self.wref[s]
            np.minimum(self.warm, self.rows.warm_size, out=self.warm)  # never above its size
            self.wref[s].fill(0)
            self.wref_used[s] = False
        if self.term_used[s]:
            self.ready -= self.term[s]
            self.doomed -= self.term[s]
            self.n_doomed -= int(self.term[s].sum())
            self.term[s].fill(0)
            self.term_used[s] = False

    def serve(self, a: np.ndarray, drop: np.ndarray) -> None:
        """Serve this minute's demand ``a`` and the backlog; drop what exceeds the timeout."""
        cap, tot, tmp, backlog = self.cap, self.tot, self.tmp, self.backlog
        np.multiply(self.ready, self.rows.mu_pm, out=cap)
        np.add(backlog, a, out=tot)
        np.minimum(tot, cap, out=tmp)
        np.subtract(tot, tmp, out=backlog)
        np.maximum(a, cap, out=tmp)
        tmp *= self.tfrac
        np.subtract(backlog, tmp, out=tmp)
        np.maximum(tmp, 0.0, out=drop)
        backlog -= drop

    def spot_notices(self, t: int) -> None:
        """Interruption notices hitting running spot replicas; replacements start at once."""
        rows = self.rows
        for r, slot in self.events.get(t, ()):
            running = self.ready[r] + self.npend[r]
            spot_n = math.floor(rows.share[r] * max(running - rows.committed[r], 0) + 0.5)
            if slot >= spot_n - self.doomed[r]:
                continue
            self.doomed[r] += 1
            self.n_doomed += 1
            self.interruptions[r] += 1
            self._book(self.term, self.term_used, t + NOTICE_MIN, r)
            if self.warm[r] > 0:
                self.warm[r] -= 1
                self._book(self.wref, self.wref_used, t + int(rows.cold[r]), r)
                delay = rows.warm_steps[r]
            else:
                self.cold_starts[r] += 1
                delay = rows.cold[r]
            self._book(self.pend, self.pend_used, t + int(delay), r)
            self.npend[r] += 1

    def current(self) -> np.ndarray:
        """Replicas the autoscaler sees: ready + starting - already interrupted."""
        np.add(self.ready, self.npend, out=self.cur)
        if self.n_doomed:
            self.cur -= self.doomed
        return self.cur

    def queue_load(self, t: int, up: np.ndarray) -> np.ndarray:
        """Queue-length rows also count the requests waiting one polling interval ago."""
        rows = self.rows
        self.qhist[t % self.HQ] = self.backlog
        lagged = self.qhist[(t - rows.lag) % self.HQ, self.ar]
        return np.minimum(up + lagged / rows.target * rows.is_queue, rows.max_r)

    def scale_up(self, t: int, up: np.ndarray) -> np.ndarray:
        """HPA: usage ratio ``up / current`` beyond the tolerance -> ceil(up) replicas."""
        rows, cur = self.rows, self.cur
        np.multiply(cur, self.tol_up, out=self.tmp)
        want_up = np.greater(up, self.tmp, out=self.want_up_b)  # implies ceil(up) > cur
        if not want_up.any():
            return want_up
        n_add = np.minimum(np.ceil(up - 1e-9).astype(np.int64) - cur, rows.max_up)
        n_add *= want_up
        H, ar = self.H, self.ar
        if self.any_warm:
            k_warm = np.minimum(n_add, self.warm)
            self.warm -= k_warm
            self.pend[(t + rows.warm_steps) % H, ar] += k_warm
            self.wref[(t + rows.cold) % H, ar] += k_warm
            for dly in self.cold_delays:
                self.wref_used[(t + dly) % H] = True
            n_cold = n_add - k_warm
        else:
            n_cold = n_add
        self.pend[(t + rows.cold) % H, ar] += n_cold
        for dly in self.start_delays:
            self.pend_used[(t + dly) % H] = True
        self.npend += n_add
        self.cold_starts += n_cold
        np.copyto(self.next_dn, t + rows.cooldown, where=want_up)
        return want_up

    def scale_down(self, t: int, dn: np.ndarray, want_up: np.ndarray) -> None:
        """Usage ratio below the tolerance and out of cooldown -> stop down to ceil(dn)."""
        rows, cur = self.rows, self.cur
        np.multiply(cur, self.tol_dn, out=self.tmp)
        want_dn = np.less(dn, self.tmp, out=self.want_dn_b)
        want_dn &= np.less_equal(self.next_dn, t, out=self.cool_b)
        if self.any_queue:
            want_dn &= ~want_up
        if not want_dn.any():
            return
        n_rm = np.minimum(cur - np.ceil(dn - 1e-9).astype(np.int64), self.ready - self.doomed)
        np.maximum(n_rm, 0, out=n_rm)
        n_rm *= want_dn
        self.ready -= n_rm
        if self.any_warm:
            self.warm += n_rm
            np.minimum(self.warm, rows.warm_size, out=self.warm)
        np.copyto(self.next_dn, t + rows.cooldown, where=n_rm > 0)

    def run_chunk(self, c0: int, c1: int, tables, win_lo, win_hi) -> None:
        """Minutes [c0, c1): step each minute, then account the chunk at once."""
        rows, n = self.rows, c1 - c0
        up_c = _recommend(rows, c0, c1, win_lo, rows.w_up)
        dn_c = _recommend(rows, c0, c1, win_hi, rows.w_dn)
        dem_c = rows.demands[rows.d_idx, c0:c1].T * rows.gpu_factor  # (n, P) GPU requests/min
        ready_h, npend_h = self.ready_b[:n], self.npend_b[:n]
        back_h, drop_h = self.back_b[:n], self.drop_b[:n]
        for j in range(n):
            t = c0 + j
            self.arrive(t)
            self.serve(dem_c[j], drop_h[j])
            ready_h[j], npend_h[j], back_h[j] = self.ready, self.npend, self.backlog
            if t in self.events:
                self.spot_notices(t)
            self.current()
            up = self.queue_load(t, up_c[j]) if self.any_queue else up_c[j]
            want_up = self.scale_up(t, up)
            self.scale_down(t, dn_c[j], want_up)
        p95 = _account(
            rows,
            tables,
            self.sums,
            c0,
            c1,
            dem_c,
            ready_h,
            npend_h,
            back_h,
            drop_h,
            self.prev_backlog,
        )
        self.prev_backlog = back_h[-1].copy()
        if self.series_r is not None and self.series_l is not None:
            self.series_r[c0:c1] = ready_h
            self.series_l[c0:c1] = p95

    def results(self) -> list[SimulationResult]:
        return _results(
            self.rows,
            self.T,
            self.sums,
            self.cold_starts,
            self.interruptions,
            self.series_r,
            self.series_l,
        )


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
    """
    P = len(policies)
    if P == 0:
        return []
    lengths = {
        "demands": len(demands),
        "mixes": len(mixes),
        "offers": len(offers),
        "capacities": len(capacities),
        "slo_p95_ms": len(slo_p95_ms),
    }
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
    engine = _Engine(rows, T, random_state, keep_series)
    tables = _latency_tables(rows, T)
    win_lo, win_hi = _window_sources(rows)
    for c0 in range(0, T, CHUNK_MIN):
        c1 = min(T, c0 + CHUNK_MIN)
        engine.run_chunk(c0, c1, tables, win_lo, win_hi)
        if progress is not None:
            progress(c1 / T)  # share of the trace simulated, for a task's progress bar
    return engine.results()


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
    """
    policies = list(policies)
    mixes = [mix] * len(policies) if isinstance(mix, PurchaseMix) else list(mix)
    if len(mixes) != len(policies):
        raise ValueError(f"got {len(mixes)} mixes for {len(policies)} policies")
    demand = np.asarray(demand_per_min, dtype=float)
    P = len(policies)
    return simulate_scenarios(
        [demand] * P,
        policies,
        mixes,
        [offer] * P,
        [capacity] * P,
        [slo_p95_ms] * P,
        random_state=random_state,
        request_timeout_s=request_timeout_s,
        keep_series=keep_series,
        progress=progress,
    )
