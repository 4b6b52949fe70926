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
* only configurations the service's export target can express: ``admissible(option, config)``,
  a predicate the caller passes (the exporters' refusals live in ``planner``; this package
  imports no Django);

in vectorised simulator calls, and prices each result at its **exact optimal commitment
level** (whole replicas, from the running-replica histogram: a commitment changes the bill, not
the autoscaler). A configuration is feasible when its SLO attainment (:mod:`costmodels.slo`)
reaches ``min_attainment``; the optimum is the cheapest feasible one, and when there is none
:attr:`SearchResult.infeasible_reason` says why.

:func:`simulate_configs` is the one way a configuration is simulated: a what-if is one
:class:`Config` evaluated, a recommendation the search's optimum, a plan draft the Config of the
accepted one.

:mod:`costmodels.levers` walks from the current configuration to the optimum one lever at a time
and attributes the saving lever by lever, and gives each lever's named slice.

:func:`brute_force` is the independent reference the property tests use: the same grid with
every commitment level simulated, no re-pricing shortcut.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from costmodels.capacity import CapacityModel
from costmodels.catalog import InstanceOffer
from costmodels.results import MINUTES_PER_MONTH, AutoscalingPolicy, PurchaseMix, SimulationResult
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
class Run:
    """One simulated configuration: the simulator's result and its SLO attainment (0-1, by the
    one definition in :mod:`costmodels.slo`; 1.0 when no minute had demand)."""

    config: Config
    result: SimulationResult
    slo_attainment: float


#: ``admissible(option, config) -> bool``: can the service's export target express it?
Admissible = Callable[[Option, Config], bool]


@dataclass(frozen=True)
class SearchSpace:
    targets_pct: Sequence[float] = (50.0, 60.0, 70.0, 80.0, 90.0)
    scale_down_windows_s: Sequence[float] = (120.0, 300.0)
    polling_intervals_s: Sequence[float] = (30.0,)
    warm_pools: Sequence[int] = (0, 1)
    spot_shares: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0)
    min_replicas: Sequence[int] = (1,)
    spot_tolerance: float = 0.5  # the service's own limit on its spot share
    cooldown_s: float | None = None  # None: the current cooldown, at most the scale-down window


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
                cooldown_s=min(current.policy.cooldown_s, float(w))
                if space.cooldown_s is None
                else float(space.cooldown_s),
                polling_interval_s=float(poll),
                warm_pool=int(warm),
            )
            out.append(Config(i, policy, PurchaseMix(0, float(share), current.mix.commitment_term)))
    return out


def simulate_configs(
    demand_per_min: np.ndarray,
    options: Sequence[Option],
    configs: Sequence[Config],
    slo_p95_ms: float,
    *,
    random_state: int | None = 0,
    bounds_ms=None,
    progress: Callable[[float], None] | None = None,
) -> list[Run]:
    """Simulate ``configs`` over one demand trace (rows in order, so the same configurations in
    the same order get the same spot-interruption draws), SLO attainment read through the
    servers' histogram ``bounds_ms`` when given. ``progress(fraction)`` as chunks finish."""
    demand = np.asarray(demand_per_min, float)
    out: list[Run] = []
    for c0 in range(0, len(configs), CHUNK_ROWS):
        part = configs[c0 : c0 + CHUNK_ROWS]
        res = simulate_scenarios(
            [demand] * len(part),
            [c.policy for c in part],
            [c.mix for c in part],
            [options[c.option].offer for c in part],
            [options[c.option].capacity for c in part],
            [slo_p95_ms] * len(part),
            random_state=random_state,
            keep_series=True,
            request_timeout_s=request_timeout_s(slo_p95_ms),
        )
        for c, r in zip(part, res, strict=True):
            att = simulated_attainment(r.p95_latency_ms, demand, slo_p95_ms, bounds_ms)
            out.append(Run(c, r, 1.0 if att is None else att))
        if progress is not None:
            progress(min(1.0, (c0 + len(part)) / len(configs)))
    return out


def priced_with_commitment(
    r: SimulationResult,
    offer: InstanceOffer,
    term: str,
    allowed: Callable[[int], bool] | None = None,
) -> tuple[int, float]:
    """(optimal whole committed replicas, total cost USD) for a simulated run: committed
    replicas billed always at the commitment price, the rest split by the run's spot share
    with the simulator's rounding, warm pool as simulated. ``allowed(level)`` False skips a
    level (e.g. the export target cannot hold a commitment beside spot); 0 is always kept."""
    h = np.asarray(r.running_replicas_histogram, float)
    k = np.arange(h.size)
    commit = offer.commit_usd_per_hour(term)
    levels = range(0, int(k.max()) + 1 if commit is not None and h.size else 1)
    best = (0, math.inf)
    for c in levels:
        if c and allowed is not None and not allowed(c):
            continue
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


def evaluate(
    demand_per_min,
    options: Sequence[Option],
    configs: Sequence[Config],
    slo_p95_ms: float,
    *,
    random_state: int | None = 0,
    bounds_ms=None,
    reprice: bool = False,
    admissible: Admissible | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[Evaluated]:
    """Monthly cost (730-h month), SLO attainment and interruptions of each configuration;
    ``reprice`` replaces its commitment by the exact optimal level that ``admissible`` allows."""
    out = []
    runs = simulate_configs(
        demand_per_min,
        options,
        configs,
        slo_p95_ms,
        random_state=random_state,
        bounds_ms=bounds_ms,
        progress=progress,
    )
    for run in runs:
        c, r = run.config, run.result
        scale = (
            r.monthly_cost_usd / r.total_cost_usd
            if r.total_cost_usd
            else MINUTES_PER_MONTH / r.minutes
        )
        if reprice:
            o = options[c.option]

            def allowed(k: int, o: Option = o, c: Config = c) -> bool:
                mix = dataclasses.replace(c.mix, committed_replicas=k)
                return admissible is None or admissible(o, dataclasses.replace(c, mix=mix))

            level, cost = priced_with_commitment(r, o.offer, c.mix.commitment_term, allowed)
            c = dataclasses.replace(c, mix=dataclasses.replace(c.mix, committed_replicas=level))
        else:
            cost = r.total_cost_usd
        out.append(Evaluated(c, cost * scale, run.slo_attainment, r.spot_interruptions))
    return out


@dataclass(frozen=True)
class SearchResult:
    current: Evaluated
    optimum: Evaluated | None  # None when no configuration meets the SLO
    evaluated: int
    min_attainment: float
    refused: int = 0  # grid points the export target cannot express (never simulated)
    infeasible_reason: str | None = None


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
    admissible: Admissible | None = None,
    progress: Callable[[float], None] | None = None,
) -> SearchResult:
    """The cheapest configuration meeting ``min_attainment`` among those ``admissible`` allows
    (see the module docstring)."""
    demand = np.asarray(demand_per_min, float)
    every = grid(options, current, space)
    configs = [c for c in every if admissible is None or admissible(options[c.option], c)]
    cur = evaluate(
        demand, options, [current], slo_p95_ms, random_state=random_state, bounds_ms=bounds_ms
    )[0]
    priced = evaluate(
        demand,
        options,
        configs,
        slo_p95_ms,
        random_state=random_state,
        bounds_ms=bounds_ms,
        reprice=True,
        admissible=admissible,
        progress=progress,
    )
    feasible = [e for e in priced if e.slo_attainment >= min_attainment - 1e-12]
    best = (
        min(feasible, key=lambda e: (e.monthly_cost_usd, -e.slo_attainment)) if feasible else None
    )
    why = None if best else why_infeasible(options, priced, slo_p95_ms, min_attainment, configs)
    return SearchResult(cur, best, len(configs), min_attainment, len(every) - len(configs), why)


def why_infeasible(options, priced, slo_p95_ms, min_attainment, configs) -> str:
    """What stops every configuration from meeting the SLO, and what to change."""
    if not configs:
        return "the export target can express none of the searched configurations"
    idle = [
        (float(o.capacity.service_latency_ms(np.array([1e-6]), np.array([1]))[0]), o)
        for o in options
    ]
    fastest, o = min(idle, key=lambda x: x[0])
    if fastest > slo_p95_ms:
        cap = o.capacity
        return (
            f"p95 latency without any queueing is {fastest:.0f} ms (batch {cap.batch_size} on "
            f"{cap.gpu_model}) > SLO {slo_p95_ms:.0f} ms at every mix: use a faster GPU, a "
            f"smaller batch or quantisation, or relax the SLO"
        )
    best = max(priced, key=lambda e: e.slo_attainment)
    return (
        f"best configuration ({options[best.config.option].name}, {best.config.policy.label}) "
        f"meets the {slo_p95_ms:.0f} ms SLO in only {best.slo_attainment:.1%} of minutes "
        f"(target {min_attainment:.1%}): raise max replicas or add a warm pool"
    )


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
    evals = evaluate(
        demand, options, configs, slo_p95_ms, random_state=random_state, bounds_ms=bounds_ms
    )
    feasible = [e for e in evals if e.slo_attainment >= min_attainment - 1e-12]
    return min(feasible, key=lambda e: e.monthly_cost_usd) if feasible else None
