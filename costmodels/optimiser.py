"""Purchase-mix and autoscaling optimiser: the cheapest plan per service that meets its SLO.

For each service, over its evidence window of demand (requests per minute):

1. simulate a grid of autoscaling policies (all on-demand) and keep those whose share of
   minutes with p95 <= SLO reaches ``slo_target`` with under 0.1 % of requests dropped;
2. for the cheapest few, choose the commitment level exactly
   (:func:`~costmodels.commitment.optimal_commitment_level`, whole replicas, overflow at
   the spot/on-demand blend) for each spot share the interruption risk allows, and
   simulate those mixes with spot interruptions;
3. return the cheapest feasible (policy, mix) with its monthly cost by category, savings
   against the current policy and mix, SLO attainment, risk and evidence window -- or,
   when no policy meets the SLO, an infeasible plan that says why.

All services with evidence windows of the same length are simulated together, so a whole
fleet costs two simulator calls (see :func:`optimise_fleet`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodels.capacity import CapacityModel
from costmodels.catalog import BUCKET_MONTHLY_INTERRUPTION, InstanceOffer
from costmodels.commitment import commitment_cost, optimal_commitment_level
from costmodels.results import MINUTES_PER_MONTH, AutoscalingPolicy, PurchaseMix, ServicePlan
from costmodels.simulator import simulate_scenarios

__all__ = [
    "ServiceSpec",
    "ServicePlan",
    "commitment_cost",
    "default_policy_grid",
    "max_spot_share",
    "optimal_commitment_level",
    "optimise_fleet",
    "optimise_service",
]

MAX_DROPPED_SHARE = 0.001
SPOT_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Highest spot share allowed per Spot Advisor bucket (None = assumed bucket 2).
MAX_SPOT_SHARE_BY_BUCKET = {0: 1.0, 1: 1.0, 2: 0.75, 3: 0.5, 4: 0.25}


@dataclass(frozen=True)
class ServiceSpec:
    """One service to plan: its demand evidence, capacity model, offer and SLO.

    ``demand_per_min``: requests per minute; a ``pd.Series`` with a DatetimeIndex gives the
    evidence window its dates. ``slo_target``: required share of minutes with p95 <= SLO.
    """

    service: str
    demand_per_min: np.ndarray | pd.Series
    capacity: CapacityModel
    offer: InstanceOffer
    slo_p95_ms: float
    slo_target: float = 0.99
    current_policy: AutoscalingPolicy | None = None
    current_mix: PurchaseMix | None = None
    policy_grid: tuple[AutoscalingPolicy, ...] | None = None
    commitment_term: str = "1y"


def max_spot_share(offer: InstanceOffer) -> float:
    """Spot share the interruption risk allows (0 when the offer has no spot price)."""
    if offer.spot_usd_per_hour is None:
        return 0.0
    bucket = offer.spot_interruption_bucket
    return MAX_SPOT_SHARE_BY_BUCKET[2 if bucket is None else bucket]


def default_policy_grid(
    capacity: CapacityModel, demand_per_min: np.ndarray
) -> tuple[AutoscalingPolicy, ...]:
    """20 request-rate policies (KEDA Prometheus trigger on requests per replica): targets
    at 50-90 % of a replica's throughput x min 1-2 replicas x warm pool 0/1; polling 30 s,
    scale-down window and cooldown 300 s, max replicas sized for the peak at 50 %."""
    mu = capacity.throughput_rps_
    peak_rps = float(np.max(demand_per_min)) / 60.0 * (1.0 - capacity.cache_hit_rate)
    max_r = max(2, math.ceil(peak_rps / (0.5 * mu)) + 2)
    return tuple(
        AutoscalingPolicy(
            metric="requests_per_replica",
            target=round(mu * u, 6),
            min_replicas=lo,
            max_replicas=max(max_r, lo),
            polling_interval_s=30,
            scale_up_stabilisation_s=0,
            scale_down_stabilisation_s=300,
            cooldown_s=300,
            warm_pool=wp,
        )
        for u in (0.5, 0.6, 0.7, 0.8, 0.9)
        for lo in (1, 2)
        for wp in (0, 1)
    )


def _window(demand: np.ndarray | pd.Series) -> tuple[tuple[str, str], np.ndarray]:
    if isinstance(demand, pd.Series):
        values = demand.to_numpy(float)
        if isinstance(demand.index, pd.DatetimeIndex) and len(demand):
            return (demand.index[0].isoformat(), demand.index[-1].isoformat()), values
        return (("minute 0", f"minute {len(values) - 1}"), values)
    values = np.asarray(demand, float)
    return ("minute 0", f"minute {len(values) - 1}"), values


def _meets(r, target: float) -> bool:
    return r.slo_attainment >= target and r.dropped_requests <= MAX_DROPPED_SHARE * max(
        r.requests, 1.0
    )


def optimise_fleet(
    specs: Sequence[ServiceSpec],
    *,
    random_state: int | None = 0,
    candidates: int = 3,
    progress: Callable[[float], None] | None = None,
) -> list[ServicePlan]:
    """Plan every service; services with equal-length evidence are simulated together.
    ``progress(fraction)`` is called as the work advances (0-1), e.g. for a Celery task."""
    plans: dict[int, ServicePlan] = {}
    by_len: dict[int, list[int]] = {}
    prepared = [_window(s.demand_per_min) for s in specs]
    for i, (_, d) in enumerate(prepared):
        by_len.setdefault(d.size, []).append(i)
    done = 0
    for idx in by_len.values():
        share = len(idx) / max(len(specs), 1)

        def report(f: float, base: float = done / max(len(specs), 1), share: float = share) -> None:
            if progress is not None:
                progress(min(1.0, base + share * f))

        group = _optimise_group(
            [specs[i] for i in idx], [prepared[i] for i in idx], random_state, candidates, report
        )
        for i, plan in zip(idx, group, strict=True):
            plans[i] = plan
        done += len(idx)
    return [plans[i] for i in range(len(specs))]


def _optimise_group(specs, prepared, random_state, candidates, report) -> list[ServicePlan]:
    # phase 1: policy grid (and current settings) with everything on-demand
    rows: list[tuple[int, AutoscalingPolicy, PurchaseMix, bool]] = []
    for i, s in enumerate(specs):
        grid = s.policy_grid or default_policy_grid(s.capacity, prepared[i][1])
        rows += [(i, p, PurchaseMix(commitment_term=s.commitment_term), False) for p in grid]
        if s.current_policy is not None:
            rows.append((i, s.current_policy, s.current_mix or PurchaseMix(), True))
    res1 = _run(specs, prepared, rows, random_state, lambda f: report(0.7 * f))
    # phase 2: exact commitment per allowed spot share for the cheapest feasible policies
    rows2: list[tuple[int, AutoscalingPolicy, PurchaseMix, bool]] = []
    best_phase1: dict[int, list] = {}
    current: dict[int, object] = {}
    for (i, _pol, _mix, is_current), r in zip(rows, res1, strict=True):
        if is_current:
            current[i] = r
        else:
            best_phase1.setdefault(i, []).append(r)
    for i, s in enumerate(specs):
        feasible = sorted(
            (r for r in best_phase1.get(i, []) if _meets(r, s.slo_target)),
            key=lambda r: r.total_cost_usd,
        )
        for r in feasible[:candidates]:
            for share in (x for x in SPOT_SHARES if x <= max_spot_share(s.offer) + 1e-9):
                rows2.append(
                    (i, r.policy, _commitment_mix(s, r.running_replicas_usage(), share), False)
                )
    res2 = (
        _run(specs, prepared, rows2, random_state, lambda f: report(0.7 + 0.3 * f)) if rows2 else []
    )
    report(1.0)
    chosen: dict[int, list] = {}
    for (i, *_), r in zip(rows2, res2, strict=True):
        chosen.setdefault(i, []).append(r)
    return [
        _plan(s, prepared[i][0], chosen.get(i, []), best_phase1.get(i, []), current.get(i))
        for i, s in enumerate(specs)
    ]


def _commitment_mix(s: ServiceSpec, replicas: np.ndarray, share: float) -> PurchaseMix:
    o = s.offer
    commit = o.commit_usd_per_hour(s.commitment_term)
    if commit is None:
        return PurchaseMix(0, share, s.commitment_term)
    overflow = (1 - share) * o.ondemand_usd_per_hour + share * (o.spot_usd_per_hour or 0.0)
    level = optimal_commitment_level(
        replicas,
        commit,
        o.ondemand_usd_per_hour,
        method="exact",
        overflow_price=np.full(replicas.shape, overflow),
        integer=True,
    )
    return PurchaseMix(int(level), share, s.commitment_term)


def _run(specs, prepared, rows, random_state, progress):
    return simulate_scenarios(
        [prepared[i][1] for i, *_ in rows],
        [p for _, p, _, _ in rows],
        [m for *_, m, _ in rows],
        [specs[i].offer for i, *_ in rows],
        [specs[i].capacity for i, *_ in rows],
        [specs[i].slo_p95_ms for i, *_ in rows],
        random_state=random_state,
        keep_series=False,
        progress=progress,
    )


def _monthly(r) -> dict[str, float]:
    f = MINUTES_PER_MONTH / r.minutes
    return {k: round(v * f, 2) for k, v in r.cost_usd_by_category.items()}


def _plan(s: ServiceSpec, window, phase2, phase1, current) -> ServicePlan:
    cur_cost = current.monthly_cost_usd if current is not None else None
    cur_att = current.slo_attainment if current is not None else None
    minutes = phase1[0].minutes if phase1 else 0
    feasible = [r for r in phase2 if _meets(r, s.slo_target)]
    if not feasible:
        return ServicePlan(
            service=s.service,
            feasible=False,
            infeasible_reason=_why_infeasible(s, phase1),
            policy=None,
            mix=None,
            monthly_cost_usd_by_category={},
            monthly_cost_usd=0.0,
            current_monthly_cost_usd=cur_cost,
            monthly_savings_usd=None,
            slo_p95_ms=s.slo_p95_ms,
            slo_attainment=max((r.slo_attainment for r in phase1), default=0.0),
            current_slo_attainment=cur_att,
            expected_spot_interruptions_per_month=0.0,
            risk="no plan: the SLO cannot be met with this GPU type and capacity model",
            evidence_window=window,
            evidence_minutes=minutes,
            commitment_rule="exact",
        )
    best = min(feasible, key=lambda r: (round(r.total_cost_usd, 6), -r.slo_attainment))
    monthly = best.monthly_cost_usd
    ints = best.spot_interruptions * MINUTES_PER_MONTH / best.minutes
    return ServicePlan(
        service=s.service,
        feasible=True,
        infeasible_reason=None,
        policy=best.policy,
        mix=best.mix,
        monthly_cost_usd_by_category=_monthly(best),
        monthly_cost_usd=round(monthly, 2),
        current_monthly_cost_usd=None if cur_cost is None else round(cur_cost, 2),
        monthly_savings_usd=None if cur_cost is None else round(cur_cost - monthly, 2),
        slo_p95_ms=s.slo_p95_ms,
        slo_attainment=best.slo_attainment,
        current_slo_attainment=cur_att,
        expected_spot_interruptions_per_month=round(ints, 2),
        risk=_risk(s, best, ints),
        evidence_window=window,
        evidence_minutes=best.minutes,
        commitment_rule="exact",
    )


def _risk(s: ServiceSpec, r, ints: float) -> str:
    parts = []
    m = r.mix
    if m.spot_share > 0:
        b = s.offer.spot_interruption_bucket
        rate = BUCKET_MONTHLY_INTERRUPTION[2 if b is None else b]
        src = "assumed" if b is None else f"Spot Advisor bucket {b}"
        parts.append(
            f"{m.spot_share:.0%} of replicas above the commitment on spot ({src}, ~{rate:.1%}/month "
            f"per instance): ~{ints:.1f} interruptions/month simulated, 2-min notice, "
            f"replacement after a {math.ceil(s.capacity.cold_start_s_ / 60)}-min start"
        )
    if m.committed_replicas:
        used = float(np.mean(r.running_replicas_usage() >= m.committed_replicas))
        parts.append(
            f"{m.committed_replicas} replicas committed for {m.commitment_term} (fully used {used:.0%} of minutes)"
        )
    parts.append(
        f"SLO met in {r.slo_attainment:.2%} of minutes (target {s.slo_target:.2%}); {r.cold_starts} cold starts"
    )
    return "; ".join(parts)


def _why_infeasible(s: ServiceSpec, phase1) -> str:
    cap = s.capacity
    idle = float(cap.service_latency_ms(np.array([1e-6]), np.array([1]))[0])
    if idle > s.slo_p95_ms:
        return (
            f"p95 latency without any queueing is {idle:.0f} ms (batch {cap.batch_size} on "
            f"{cap.gpu_model}) > SLO {s.slo_p95_ms:.0f} ms at every mix: use a faster GPU, a "
            f"smaller batch or quantisation, or relax the SLO"
        )
    if not phase1:
        return "no policy was simulated"
    best = max(phase1, key=lambda r: r.slo_attainment)
    return (
        f"best policy ({best.policy.label}) meets the {s.slo_p95_ms:.0f} ms SLO in only "
        f"{best.slo_attainment:.1%} of minutes (target {s.slo_target:.1%}), dropping "
        f"{best.dropped_requests:.0f} requests: raise max replicas or add a warm pool"
    )


def optimise_service(
    service: str,
    demand_per_min: np.ndarray | pd.Series,
    capacity: CapacityModel,
    offer: InstanceOffer,
    *,
    slo_p95_ms: float,
    slo_target: float = 0.99,
    current_policy: AutoscalingPolicy | None = None,
    current_mix: PurchaseMix | None = None,
    policy_grid: Sequence[AutoscalingPolicy] | None = None,
    commitment_term: str = "1y",
    random_state: int | None = 0,
    progress: Callable[[float], None] | None = None,
) -> ServicePlan:
    """Cheapest (policy, purchase mix) for one service that meets its SLO; see the module doc."""
    spec = ServiceSpec(
        service,
        demand_per_min,
        capacity,
        offer,
        slo_p95_ms,
        slo_target,
        current_policy,
        current_mix,
        tuple(policy_grid) if policy_grid is not None else None,
        commitment_term,
    )
    return optimise_fleet([spec], random_state=random_state, progress=progress)[0]
