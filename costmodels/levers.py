"""Savings lever by lever: from the current configuration to the engine's optimum.

:func:`attribute` walks from the current configuration to the optimum one lever at a time (in
:data:`costmodels.engine.LEVERS` order) and attributes the saving lever by lever;
:func:`single_lever` gives each lever's named slice (the current configuration with only that
lever moved to the optimum's value). Both price through :func:`costmodels.engine.evaluate`, the
one way a configuration is simulated.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from costmodels.engine import LEVERS, Config, Evaluated, evaluate


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
    evals = evaluate(
        demand,
        options,
        [current] + [c for _, c in steps],
        slo_p95_ms,
        random_state=random_state,
        bounds_ms=bounds_ms,
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
    evals = evaluate(
        demand_per_min,
        options,
        [c for _, c in slices],
        slo_p95_ms,
        random_state=random_state,
        bounds_ms=bounds_ms,
    )
    return [(lv, e) for (lv, _), e in zip(slices, evals, strict=True)]
