"""What the one engine proposes for a service: the joint optimum under the SLO and each lever's
named slice, simulated beside the current configuration exactly as its what-if runs.
:mod:`planner.whatif.recommend` turns these into stored recommendations with their backtest.
"""

from __future__ import annotations

from costmodels.slo import SLO_MET_ATTAINMENT
from planner.whatif import engine

MIN_SAVINGS_USD, MIN_SAVINGS_SHARE, SLO_TOLERANCE = 10.0, 0.01, 0.005
RIGHT_SIZE_CANDIDATES = 6


def _candidates(inputs: engine.ServiceInputs) -> list[tuple[str, str, dict]]:
    """Right-size options: the instance types and MIG slices of the deployment's provider and
    region whose memory holds the model, cheapest per request served first."""
    out: list[tuple[str, str, dict]] = []
    dep, offer = inputs.deployment, inputs.offer
    need_gib = engine.capacity_for(inputs, offer).memory_required_gib_
    sized = []
    for o, mig in engine.offers_with_slices(dep.provider, dep.region):
        if o.instance_type == offer.instance_type and not mig:
            continue
        if o.gpu_memory_gib * max(o.gpu_count, 1) < need_gib:
            continue
        try:
            cap = engine.capacity_for(inputs, o)
        except ValueError:  # GPU the capacity model has no speed factor for
            continue
        sized.append((o.ondemand_usd_per_hour / cap.throughput_rps_, o, mig))
    for _, o, mig in sorted(sized, key=lambda x: x[0])[:RIGHT_SIZE_CANDIDATES]:
        base_type = o.instance_type.split(" (")[0]
        title = f"Move to {o.instance_type} ({o.gpu_model})"
        out.append(("right-size", title, {"instance_type": base_type, "mig_profile": mig}))
    return out


LEVER_KIND = {
    "instance": "right-size",
    "replica_bounds": "threshold",
    "autoscaling": "threshold",
    "warm_pool": "threshold",
    "spot_share": "spot-share",
    "commitment": "commitment",
}
LEVER_LABEL = {
    "instance": "instance type",
    "replica_bounds": "replica bounds",
    "autoscaling": "autoscaling",
    "warm_pool": "warm pool",
    "spot_share": "spot share",
    "commitment": "commitment",
}


def engine_options(inputs: engine.ServiceInputs) -> list:
    """The current instance (batch 1 and 4) and the right-size candidates (MIG slices
    included), each with its capacity model."""
    from costmodels.engine import Option

    opts = [
        Option(inputs.offer.instance_type, inputs.offer, engine.capacity_for(inputs, inputs.offer))
    ]
    opts.append(
        Option(
            f"{inputs.offer.instance_type} (batch 4)",
            inputs.offer,
            engine.capacity_for(inputs, inputs.offer, 4),
        )
    )
    for _kind, _title, params in _candidates(inputs):
        offer = engine.offer_for(inputs, params["instance_type"], params.get("mig_profile") or "")
        opts.append(Option(offer.instance_type, offer, engine.capacity_for(inputs, offer)))
    return opts


def _params(inputs: engine.ServiceInputs, options, cfg) -> dict:
    """What-if parameters reproducing an engine configuration."""
    o = options[cfg.option]
    name = o.name
    mig = name.split(" (", 1)[1].rstrip(")") if " (" in name and "batch" not in name else ""
    p, m = cfg.policy, cfg.mix
    return {
        "instance_type": o.offer.instance_type.split(" (")[0],
        "mig_profile": mig,
        "batch_size": int(o.capacity.batch_size),
        "metric": p.metric,
        "target": p.target,
        "min_replicas": p.min_replicas,
        "max_replicas": p.max_replicas,
        "scale_down_stabilisation_s": p.scale_down_stabilisation_s,
        "cooldown_s": p.cooldown_s,
        "polling_interval_s": p.polling_interval_s,
        "warm_pool": p.warm_pool,
        "spot_share": m.spot_share,
        "committed_replicas": m.committed_replicas,
        "commitment_term": m.commitment_term,
    }


def _space(inputs: engine.ServiceInputs):
    from costmodels.engine import SearchSpace
    from planner.plans.from_simulation import search_cooldown_s

    cur = inputs.policy
    tolerance = 1.0 if inputs.service.modality == "batch" else 0.5
    return SearchSpace(
        targets_pct=tuple(sorted({50.0, 60.0, 70.0, 80.0, float(cur.target)})),
        scale_down_windows_s=(120.0, 300.0),
        warm_pools=(0, 1),
        spot_shares=(0.0, 0.25, 0.5, 1.0),
        min_replicas=(cur.min_replicas,),
        spot_tolerance=tolerance,
        cooldown_s=search_cooldown_s(inputs.deployment),
    )


def _engine_search(inputs: engine.ServiceInputs, options, admissible):
    """The joint search under the SLO, then its optimum lever by lever (attributed savings)
    and as each lever's named slice: (optimum config or None, steps, slices)."""
    from costmodels import engine as planning
    from costmodels import levers
    from costmodels.engine import Config

    current = Config(0, inputs.policy, inputs.mix)
    slo = float(inputs.service.latency_slo_p95_ms)
    run = {"random_state": engine.RANDOM_STATE, "bounds_ms": inputs.latency_bounds_ms}
    res = planning.search(
        inputs.demand_per_min,
        options,
        current,
        slo,
        space=_space(inputs),
        min_attainment=SLO_MET_ATTAINMENT,
        admissible=admissible,
        **run,
    )
    if res.optimum is None:
        return None, [], []
    opt = res.optimum.config
    steps = levers.attribute(inputs.demand_per_min, options, current, opt, slo, **run)
    slices = levers.single_lever(inputs.demand_per_min, options, current, opt, slo, **run)
    return opt, steps, slices


def _proposals(opt, steps, slices, options, admissible, base: dict) -> dict:
    """{kind: (config, title, monthly cost)}: the joint optimum ("plan") and, per kind, the
    cheapest lever slice the export target can express that does not cost SLO."""
    chosen = {
        "plan": (
            opt,
            "Joint optimum: " + ", ".join(f"{LEVER_LABEL[lv]} (${sv:,.0f})" for lv, _, sv in steps),
            None,
        )
    }
    for lever, e in slices:
        kind = LEVER_KIND[lever]
        if admissible is not None and not admissible(options[e.config.option], e.config):
            continue
        if (
            e.slo_attainment < base["slo_attainment"] - SLO_TOLERANCE
            and e.slo_attainment < SLO_MET_ATTAINMENT
        ):
            continue
        prev = chosen.get(kind)
        if prev is None or e.monthly_cost_usd < prev[2]:
            chosen[kind] = (
                e.config,
                f"{LEVER_LABEL[lever].capitalize()} as in the joint optimum",
                e.monthly_cost_usd,
            )
    return chosen


def choose(inputs: engine.ServiceInputs) -> tuple[dict, dict]:
    """(current summary, {key: (summary, title, params)}) from the one engine: the joint
    optimum under the SLO ("plan"), and each lever's named slice that saves on its own."""
    from planner.plans.from_simulation import admissible_for

    options = engine_options(inputs)
    admissible = admissible_for(inputs.deployment)  # what the export target cannot do is out
    base_v = engine.baseline(inputs)
    base = engine.summary(engine.evaluate(inputs, [base_v])[0], base_v)
    opt, steps, slices = _engine_search(inputs, options, admissible)
    if opt is None:
        return base, {}
    chosen = _proposals(opt, steps, slices, options, admissible, base)
    keys = list(chosen)
    variants = [engine.variant(inputs, _params(inputs, options, chosen[k][0])) for k in keys]
    # each proposal simulated beside the current configuration, exactly as its what-if runs
    # (same rows, so the same spot-interruption draws)
    results = [engine.evaluate(inputs, [base_v, v])[1] for v in variants]
    base_cost = base["monthly_cost_usd"]
    out = {}
    for k, v, r in zip(keys, variants, results, strict=True):
        s = engine.summary(r, v)
        params = _params(inputs, options, chosen[k][0])
        title = chosen[k][1] if k == "plan" else _slice_title(k, params, inputs)
        saving = base_cost - s["monthly_cost_usd"]
        fixes = base["slo_attainment"] < SLO_MET_ATTAINMENT <= s["slo_attainment"]
        if fixes:
            title = f"Meet the SLO: {title[0].lower()}{title[1:]}"
        elif saving < max(MIN_SAVINGS_USD, MIN_SAVINGS_SHARE * base_cost):
            continue
        if s["slo_attainment"] < base["slo_attainment"] - SLO_TOLERANCE and not fixes:
            continue
        s["attribution"] = (
            [{"lever": lv, "monthly_savings_usd": round(sv, 2)} for lv, _, sv in steps]
            if k == "plan"
            else []
        )
        out[k] = (s, title, {"_kind": "plan" if k == "plan" else k, **params})
    return base, out


def _slice_title(kind: str, p: dict, inputs: engine.ServiceInputs) -> str:
    if kind == "right-size":
        mig = f" ({p['mig_profile']} slice)" if p["mig_profile"] else ""
        return f"Move to {p['instance_type']}{mig}, batch {p['batch_size']}"
    if kind == "commitment":
        return f"Commit to {p['committed_replicas']} replicas of {p['instance_type']} for {p['commitment_term']}"
    if kind == "spot-share":
        return f"Run {p['spot_share']:.0%} of burst replicas on spot"
    return (
        f"Scale on GPU utilisation {p['target']:.0f} %, replicas {p['min_replicas']}-{p['max_replicas']}, "
        f"scale down after {p['scale_down_stabilisation_s']:.0f} s, warm pool {p['warm_pool']}"
    )
