"""The one planning entry point: a joint search over a service's configuration under its SLO.

:func:`search` simulates, over one demand trace, every combination of

* **instance option** -- an instance type or MIG slice (priced by
  :meth:`costmodels.catalog.InstanceOffer.mig_slice`) with a capacity model, batching included
  (each batch size is its own capacity model);
* **replica bounds** -- the minimum from ``min_replicas``, the maximum scaled to the option's
  throughput so the fleet's peak capacity is kept;
* **autoscaling** -- GPU-utilisation target, scale-down window and polling interval;
* **warm pool** size;
* **spot share** -- bounded by the offer's interruption bucket (:data:`MAX_SPOT_SHARE_BY_BUCKET`)
  and the service's own tolerance;

in vectorised simulator calls, and prices each result at its **exact optimal commitment
level** (whole replicas, from the running-replica histogram: a commitment changes the bill, not
the autoscaler). A configuration is feasible when its SLO attainment (:mod:`costmodels.slo`)
reaches ``min_attainment``; the optimum is the cheapest feasible one.

:func:`attribute` walks from the current configuration to the optimum one lever at a time and
attributes the saving lever by lever; :func:`single_lever` gives each lever's named slice (the
current configuration with only that lever moved to the optimum's value).

:func:`brute_force` is the independent reference the property tests use: the same grid with
every commitment level simulated, no re-pricing shortcut.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costmodels.capacity import CapacityModel
from costmodels.catalog import InstanceOffer
from costmodels.results import (
    MINUTES_PER_MONTH,
    AutoscalingPolicy,
    PurchaseMix,
    SimulationResult,
)
from costmodels.simulator import simulate_scenarios
from costmodels.slo import SLO_MET_ATTAINMENT, request_timeout_s, simulated_attainment

#: largest spot share per interruption bucket (0: <5 % a month ... 4: >20 %)
MAX_SPOT_SHARE_BY_BUCKET = {0: 1.0, 1: 0.75, 2: 0.5, 3: 0.25, 4: 0.0}
LEVERS = ("instance", "replica_bounds", "autoscaling", "warm_pool", "spot_share", "commitment")
CHUNK_ROWS = 256


@dataclass(frozen=True)
class Option:
    """One instance option: ``name`` for people (e.g. ``"p4d.24xlarge (1g.10gb)"``)."""

    name: str
    offer: InstanceOffer
    capacity: CapacityModel


@dataclass(frozen=True)
class Config:
    """A point of the search: option index, autoscaling policy (replica bounds, warm pool
    included) and purchase mix."""

    option: int
    policy: AutoscalingPolicy
    mix: PurchaseMix


@dataclass(frozen=True)
class Evaluated:
    config: Config
    monthly_cost_usd: float
    slo_attainment: float
    spot_interruptions: int


@dataclass(frozen=True)
class SearchSpace:
    targets_pct: Sequence[float] = (50.0, 60.0, 70.0, 80.0, 90.0)
    scale_down_windows_s: Sequence[float] = (120.0, 300.0)
    polling_intervals_s: Sequence[float] = (30.0,)
    warm_pools: Sequence[int] = (0, 1)
    spot_shares: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0)
    min_replicas: Sequence[int] = (1,)
    spot_tolerance: float = 0.5  # the service's own limit on its spot share


def max_spot_share(offer: InstanceOffer, tolerance: float) -> float:
    """Spot share allowed on ``offer``: 0 without a spot price, else the bucket's limit capped
    by the service's tolerance (unknown bucket: the catalog's assumed bucket 2)."""
    if not offer.spot_usd_per_hour:
        return 0.0
    bucket = 2 if offer.spot_interruption_bucket is None else offer.spot_interruption_bucket
    return min(MAX_SPOT_SHARE_BY_BUCKET[bucket], tolerance)


def scaled_max_replicas(current_max: int, current_mu: float, option_mu: float) -> int:
    """Replica maximum keeping the current peak capacity on an option of throughput ``option_mu``."""
    return max(1, math.ceil(current_max * current_mu / option_mu - 1e-9))


def grid(options: Sequence[Option], current: Config, space: SearchSpace) -> list[Config]:
    """Every configuration of the joint search (commitment is priced, not enumerated)."""
    cur_mu = options[current.option].capacity.throughput_rps_
    out = []
    for i, o in enumerate(options):
        top = scaled_max_replicas(current.policy.max_replicas, cur_mu, o.capacity.throughput_rps_)
        cap = max_spot_share(o.offer, space.spot_tolerance)
        shares = sorted({s for s in space.spot_shares if s <= cap + 1e-9} | {0.0})
        mins = sorted({min(m, top) for m in (*space.min_replicas, current.policy.min_replicas)})
        for t, w, poll, warm, share, lo in itertools.product(
            space.targets_pct,
            space.scale_down_windows_s,
            space.polling_intervals_s,
            space.warm_pools,
            shares,
            mins,
        ):
            policy = dataclasses.replace(
                current.policy,
                metric="gpu_utilisation",
                target=float(t),
                min_replicas=lo,
                max_replicas=top,
                scale_down_stabilisation_s=float(w),
                cooldown_s=min(current.policy.cooldown_s, float(w)),
                polling_interval_s=float(poll),
                warm_pool=int(warm),
            )
            out.append(Config(i, policy, PurchaseMix(0, float(share), current.mix.commitment_term)))
    return out


def _simulate(demand, options, configs, slo, random_state, bounds_ms) -> list:
    out: list[tuple[SimulationResult, float]] = []
    for c0 in range(0, len(configs), CHUNK_ROWS):
        part = configs[c0 : c0 + CHUNK_ROWS]
        res = simulate_scenarios(
            [demand] * len(part),
            [c.policy for c in part],
            [c.mix for c in part],
            [options[c.option].offer for c in part],
            [options[c.option].capacity for c in part],
            [slo] * len(part),
            random_state=random_state,
            keep_series=True,
            request_timeout_s=request_timeout_s(slo),
        )
        for r in res:
            att = simulated_attainment(r.p95_latency_ms, demand, slo, bounds_ms)
            out.append((r, 1.0 if att is None else att))
    return out


def priced_with_commitment(
    r: SimulationResult, offer: InstanceOffer, term: str
) -> tuple[int, float]:
    """(optimal whole committed replicas, total cost USD) for a simulated run: committed
    replicas billed always at the commitment price, the rest split by the run's spot share
    with the simulator's rounding, warm pool as simulated."""
    h = np.asarray(r.running_replicas_histogram, float)
    k = np.arange(h.size)
    commit = offer.commit_usd_per_hour(term)
    levels = range(0, int(k.max()) + 1 if commit is not None and h.size else 1)
    best = (0, math.inf)
    for c in levels:
        over = np.maximum(k - c, 0)
        spot = np.floor(r.mix.spot_share * over + 0.5)
        cost = (
            c * (commit or 0.0) * r.minutes / 60.0
            + (h * spot).sum() * (offer.spot_usd_per_hour or 0.0) / 60.0
            + (h * (over - spot)).sum() * offer.ondemand_usd_per_hour / 60.0
            + r.cost_usd_by_category.get("warm_pool", 0.0)
        )
        if cost < best[1] - 1e-9:
            best = (c, float(cost))
    return best


def _evaluate(
    demand, options, configs, slo, random_state, bounds_ms, reprice=True
) -> list[Evaluated]:
    out = []
    scale = None
    for c, (r, att) in zip(
        configs, _simulate(demand, options, configs, slo, random_state, bounds_ms), strict=True
    ):
        scale = (
            r.monthly_cost_usd / r.total_cost_usd
            if r.total_cost_usd
            else MINUTES_PER_MONTH / r.minutes
        )
        if reprice:
            level, cost = priced_with_commitment(r, options[c.option].offer, c.mix.commitment_term)
            c = dataclasses.replace(c, mix=dataclasses.replace(c.mix, committed_replicas=level))
        else:
            cost = r.total_cost_usd
        out.append(Evaluated(c, cost * scale, att, r.spot_interruptions))
    return out


@dataclass(frozen=True)
class SearchResult:
    current: Evaluated
    optimum: Evaluated | None  # None when no configuration meets the SLO
    evaluated: int
    min_attainment: float


def search(
    demand_per_min: np.ndarray,
    options: Sequence[Option],
    current: Config,
    slo_p95_ms: float,
    *,
    space: SearchSpace = SearchSpace(),
    min_attainment: float = SLO_MET_ATTAINMENT,
    random_state: int | None = 0,
    bounds_ms=None,
) -> SearchResult:
    """The cheapest configuration meeting ``min_attainment`` (see the module docstring)."""
    demand = np.asarray(demand_per_min, float)
    configs = grid(options, current, space)
    evals = _evaluate(
        demand, options, [current, *configs], slo_p95_ms, random_state, bounds_ms, reprice=False
    )
    cur = evals[0]
    priced = _evaluate(demand, options, configs, slo_p95_ms, random_state, bounds_ms)
    feasible = [e for e in priced if e.slo_attainment >= min_attainment - 1e-12]
    best = (
        min(feasible, key=lambda e: (e.monthly_cost_usd, -e.slo_attainment)) if feasible else None
    )
    return SearchResult(cur, best, len(configs), min_attainment)


def brute_force(
    demand_per_min: np.ndarray,
    options: Sequence[Option],
    current: Config,
    slo_p95_ms: float,
    *,
    space: SearchSpace = SearchSpace(),
    min_attainment: float = SLO_MET_ATTAINMENT,
    random_state: int | None = 0,
    bounds_ms=None,
    max_committed: int = 4,
) -> Evaluated | None:
    """Reference optimum: every grid point at every commitment level 0..``max_committed``,
    each simulated in full (no re-pricing)."""
    demand = np.asarray(demand_per_min, float)
    configs = [
        dataclasses.replace(c, mix=dataclasses.replace(c.mix, committed_replicas=k))
        for c in grid(options, current, space)
        for k in range(max_committed + 1)
        if k == 0 or options[c.option].offer.commit_usd_per_hour(c.mix.commitment_term) is not None
    ]
    evals = _evaluate(demand, options, configs, slo_p95_ms, random_state, bounds_ms, reprice=False)
    feasible = [e for e in evals if e.slo_attainment >= min_attainment - 1e-12]
    return min(feasible, key=lambda e: e.monthly_cost_usd) if feasible else None


def _with_lever(base: Config, target: Config, lever: str) -> Config:
    p, t = base.policy, target.policy
    if lever == "instance":
        return dataclasses.replace(
            base, option=target.option, policy=dataclasses.replace(p, max_replicas=t.max_replicas)
        )
    if lever == "replica_bounds":
        return dataclasses.replace(
            base,
            policy=dataclasses.replace(p, min_replicas=t.min_replicas, max_replicas=t.max_replicas),
        )
    if lever == "autoscaling":
        return dataclasses.replace(
            base,
            policy=dataclasses.replace(
                p,
                metric=t.metric,
                target=t.target,
                scale_down_stabilisation_s=t.scale_down_stabilisation_s,
                cooldown_s=t.cooldown_s,
                polling_interval_s=t.polling_interval_s,
            ),
        )
    if lever == "warm_pool":
        return dataclasses.replace(base, policy=dataclasses.replace(p, warm_pool=t.warm_pool))
    if lever == "spot_share":
        return dataclasses.replace(
            base, mix=dataclasses.replace(base.mix, spot_share=target.mix.spot_share)
        )
    if lever == "commitment":
        return dataclasses.replace(
            base,
            mix=dataclasses.replace(base.mix, committed_replicas=target.mix.committed_replicas),
        )
    raise ValueError(f"unknown lever {lever!r}; levers are {LEVERS}")


def attribute(
    demand_per_min,
    options,
    current: Config,
    optimum: Config,
    slo_p95_ms: float,
    *,
    random_state: int | None = 0,
    bounds_ms=None,
) -> list[tuple[str, Evaluated, float]]:
    """(lever, configuration after moving it, monthly saving it adds) from the current
    configuration to ``optimum``, one lever at a time in :data:`LEVERS` order (levers that do
    not change are left out). The savings sum to current - optimum cost."""
    steps, cfg = [], current
    for lever in LEVERS:
        nxt = _with_lever(cfg, optimum, lever)
        if nxt != cfg:
            steps.append((lever, nxt))
            cfg = nxt
    if not steps:
        return []
    demand = np.asarray(demand_per_min, float)
    evals = _evaluate(
        demand,
        options,
        [current] + [c for _, c in steps],
        slo_p95_ms,
        random_state,
        bounds_ms,
        reprice=False,
    )
    out, prev = [], evals[0].monthly_cost_usd
    for (lever, _), e in zip(steps, evals[1:], strict=True):
        out.append((lever, e, prev - e.monthly_cost_usd))
        prev = e.monthly_cost_usd
    return out


def single_lever(
    demand_per_min,
    options,
    current: Config,
    optimum: Config,
    slo_p95_ms: float,
    *,
    random_state: int | None = 0,
    bounds_ms=None,
) -> list[tuple[str, Evaluated]]:
    """Each lever's named slice: the current configuration with only that lever moved."""
    slices = [(lv, _with_lever(current, optimum, lv)) for lv in LEVERS]
    slices = [(lv, c) for lv, c in slices if c != current]
    if not slices:
        return []
    evals = _evaluate(
        np.asarray(demand_per_min, float),
        options,
        [c for _, c in slices],
        slo_p95_ms,
        random_state,
        bounds_ms,
        reprice=False,
    )
    return [(lv, e) for (lv, _), e in zip(slices, evals, strict=True)]
