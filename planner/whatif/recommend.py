"""Recommendations from the one planning engine (:mod:`costmodels.engine`), each with its
calibration and a backtest.

For each service :func:`costmodels.engine.search` searches jointly over the instance type (the
current one at batch 1 and 4, and the cheapest-per-request types and MIG slices of the
deployment's provider and region), replica bounds, GPU-utilisation target, scale-down window,
warm pool, spot share (bounded by the interruption bucket and the service's tolerance: 100 %
for batch, 50 % otherwise) and the exact commitment level, under the SLO (attainment >= 95 %,
:mod:`costmodels.slo`). Recommendations:

* **Joint optimum** (kind ``plan``) with its saving attributed lever by lever;
* each lever's **named slice** (the current configuration with only that lever moved to the
  optimum's value) that saves on its own: right-size, threshold (bounds, autoscaling, warm
  pool), spot share, commitment;

if it saves at least $10 and 1 % a month without lowering SLO attainment by more than 0.5
point. A service missing its SLO gets the optimum that meets it, even at a cost ("Meet the
SLO: ...").

**Backtest**: the same search runs on the first :data:`TRAIN_SHARE` of the window and its
choices are replayed on the held-out rest; predicted (earlier part) and realised (held-out
part) savings and SLO are stored with the recommendation. **Confidence** = realised /
predicted savings (clipped to 0-1), halved when the held-out SLO falls below the current one by
more than the tolerance, times the evidence coverage. A service whose calibration residual is
over :data:`planner.whatif.calibration.MAX_COST_ERROR_PCT` (or SLO gap over 2 points) is
flagged *uncalibrated* and gets confidence 0. **SLO risk** comes from the held-out replay:
*high* below 90 % attainment or a drop over 0.5 point; *low* with no drop and no added spot
interruptions; else *medium*.
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

from django.db import transaction

from costmodels.slo import SLO_MET_ATTAINMENT
from planner.core.models import Service
from planner.whatif import calibration, engine
from planner.whatif.models import (
    Recommendation,
    RecommendationStatus,
    ServiceCalibration,
    SloRisk,
)

log = logging.getLogger(__name__)
RECOMMENDATION_WINDOW_DAYS = 14
MIN_SAVINGS_USD, MIN_SAVINGS_SHARE, SLO_TOLERANCE = 10.0, 0.01, 0.005
RIGHT_SIZE_CANDIDATES = 6
SLO_FLOOR = 0.9  # below this attainment a proposal is always high risk
TRAIN_SHARE = 5.0 / 7.0  # backtest: choose on the first 10 of 14 days, replay the last 4


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


def _risk(base: dict, cand: dict) -> str:
    drop = base["slo_attainment"] - cand["slo_attainment"]
    more_interruptions = cand["spot_interruptions"] > base["spot_interruptions"]
    if cand["slo_attainment"] < SLO_FLOOR:
        return SloRisk.HIGH
    if drop <= 0 and not more_interruptions:
        return SloRisk.LOW
    return SloRisk.MEDIUM if drop <= SLO_TOLERANCE else SloRisk.HIGH


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

    cur = inputs.policy
    tolerance = 1.0 if inputs.service.modality == "batch" else 0.5
    targets = tuple(sorted({50.0, 60.0, 70.0, 80.0, float(cur.target)}))
    return SearchSpace(targets_pct=targets, scale_down_windows_s=(120.0, 300.0), warm_pools=(0, 1),
                       spot_shares=(0.0, 0.25, 0.5, 1.0), min_replicas=(cur.min_replicas,), spot_tolerance=tolerance)  # fmt: skip


def _engine_choose(inputs: engine.ServiceInputs) -> tuple[dict, dict]:
    """(current summary, {key: (summary, title, params)}) from the one engine: the joint
    optimum under the SLO ("plan"), and each lever's named slice that saves on its own."""
    from costmodels import engine as planning
    from costmodels.engine import Config

    options = engine_options(inputs)
    current = Config(0, inputs.policy, inputs.mix)
    slo = float(inputs.service.latency_slo_p95_ms)
    base_v = engine.baseline(inputs)
    base_r = engine.run(inputs, [base_v])[0]
    base = engine.summary(base_r, base_v, inputs.latency_bounds_ms)
    res = planning.search(inputs.demand_per_min, options, current, slo, space=_space(inputs),
                          min_attainment=SLO_MET_ATTAINMENT, random_state=engine.RANDOM_STATE, bounds_ms=inputs.latency_bounds_ms)  # fmt: skip
    if res.optimum is None:
        return base, {}
    opt = res.optimum.config
    steps = planning.attribute(inputs.demand_per_min, options, current, opt, slo,
                               random_state=engine.RANDOM_STATE, bounds_ms=inputs.latency_bounds_ms)  # fmt: skip
    slices = planning.single_lever(inputs.demand_per_min, options, current, opt, slo,
                                   random_state=engine.RANDOM_STATE, bounds_ms=inputs.latency_bounds_ms)  # fmt: skip
    chosen = {
        "plan": (
            opt,
            "Joint optimum: " + ", ".join(f"{LEVER_LABEL[lv]} (${sv:,.0f})" for lv, _, sv in steps),
        )
    }
    for lever, e in slices:
        kind = LEVER_KIND[lever]
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
    keys = list(chosen)
    variants = []
    for k in keys:
        variants.append(engine.variant(inputs, _params(inputs, options, chosen[k][0])))
    # each proposal simulated beside the current configuration, exactly as its what-if runs
    # (same rows, so the same spot-interruption draws)
    results = [engine.run(inputs, [base_v, v])[1] for v in variants]
    base_cost = base["monthly_cost_usd"]
    out = {}
    for k, v, r in zip(keys, variants, results, strict=True):
        s = engine.summary(r, v, inputs.latency_bounds_ms)
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


def _split(inputs: engine.ServiceInputs) -> tuple[engine.ServiceInputs, engine.ServiceInputs]:
    cut = int(round(inputs.demand_per_min.size * TRAIN_SHARE))
    at = inputs.start + (inputs.end - inputs.start) * TRAIN_SHARE
    train = dataclasses.replace(inputs, demand_per_min=inputs.demand_per_min[:cut], end=at)
    test = dataclasses.replace(inputs, demand_per_min=inputs.demand_per_min[cut:], start=at)
    return train, test


def backtest(inputs: engine.ServiceInputs) -> dict[str, dict]:
    """Per kind: chosen on the earlier part, replayed on the held-out later part."""
    train, test = _split(inputs)
    if train.demand_per_min.size < 60 or test.demand_per_min.size < 60:
        return {}
    base_train, chosen = _engine_choose(train)
    if not chosen:
        return {}
    base_v = engine.baseline(test)
    picks = [
        (k, engine.variant(test, {p: x for p, x in c[2].items() if p != "_kind"}))
        for k, c in chosen.items()
    ]
    results = engine.run(test, [base_v] + [v for _, v in picks], keep_series=True)
    base_test = engine.summary(results[0], base_v, test.latency_bounds_ms)
    out = {}
    for (kind, v), r in zip(picks, results[1:], strict=True):
        s, title, _ = chosen[kind]
        real = engine.summary(r, v, test.latency_bounds_ms)
        out[kind] = {
            "chosen": title,
            "train": [train.start.isoformat(), train.end.isoformat()],
            "held_out": [test.start.isoformat(), test.end.isoformat()],
            "predicted_savings_usd": round(
                base_train["monthly_cost_usd"] - s["monthly_cost_usd"], 2
            ),
            "realised_savings_usd": round(
                base_test["monthly_cost_usd"] - real["monthly_cost_usd"], 2
            ),
            "predicted_slo_attainment": s["slo_attainment"],
            "realised_slo_attainment": real["slo_attainment"],
            "current_slo_attainment_held_out": base_test["slo_attainment"],
            "risk": _risk(base_test, real),
        }
    return out


def confidence_from(bt: dict | None, coverage: float, calibrated: bool) -> float:
    """See the module docstring; 0 without a backtest or when uncalibrated."""
    if not calibrated or not bt:
        return 0.0
    pred, real = bt["predicted_savings_usd"], bt["realised_savings_usd"]
    if pred > 0:
        ratio = min(1.0, max(0.0, real / pred))
    else:  # an SLO fix: judged on whether the held-out part meets the SLO
        ratio = 1.0 if bt["realised_slo_attainment"] >= SLO_MET_ATTAINMENT else 0.0
    slo_held = (
        bt["realised_slo_attainment"] >= bt["current_slo_attainment_held_out"] - SLO_TOLERANCE
    )
    return round(ratio * (1.0 if slo_held else 0.5) * coverage, 2)


def generate_recommendations(
    service: Service, window_days: int = RECOMMENDATION_WINDOW_DAYS
) -> list[Recommendation]:
    """Replace the service's open recommendations with fresh ones (decided ones are kept) and
    store its calibration."""
    try:
        inputs = engine.load_inputs(service, window_days=window_days)
    except engine.ScenarioInputError as exc:
        log.info("no recommendations for %s: %s", service.slug, exc)
        with transaction.atomic():
            Recommendation.objects.filter(
                service=service, status=RecommendationStatus.OPEN
            ).delete()
        return []
    cal = calibration.calibrate(service, window_days=window_days, inputs=inputs)
    calibrated = cal.calibrated(calibration.MAX_COST_ERROR_PCT, calibration.MAX_SLO_GAP)
    base, best = _engine_choose(inputs)
    bts = backtest(inputs)
    coverage = min(1.0, inputs.sample_hours / (RECOMMENDATION_WINDOW_DAYS * 24.0))
    cal_json = calibration.as_json(cal)
    assumptions = [
        f"Demand: recorded request rates of {service.name} over {window_days} days, replayed minute by minute",
        f"Current autoscaler (inferred from the replica series): {inputs.policy.label}",
        f"Current purchase mix from the bills: {inputs.mix.committed_replicas} committed replicas, "
        f"{inputs.mix.spot_share:.0%} of the rest on spot",
        f"Prices: {inputs.offer.provider} list prices for {inputs.offer.region} (catalog sources: "
        f"{', '.join(f'{k} {v}' for k, v in inputs.offer.price_source.items() if v)})",
        "Monthly figures are per 730-hour month; SLO attainment = share of requests in hours whose "
        f"p95 is within {service.latency_slo_p95_ms} ms",
        *inputs.notes,
    ]
    recs = []
    with transaction.atomic():
        ServiceCalibration.objects.update_or_create(
            service=service,
            defaults={
                "evidence_start": inputs.start,
                "evidence_end": inputs.end,
                "figures": cal_json,
                "backtest": bts,
                "calibrated": calibrated,
            },
        )
        Recommendation.objects.filter(service=service, status=RecommendationStatus.OPEN).delete()
        for key, (s, title, params) in best.items():
            kind = params.pop("_kind", key)
            bt = bts.get(key)
            recs.append(
                Recommendation.objects.create(
                    kind=kind,
                    service=service,
                    title=title,
                    monthly_savings_usd=Decimal(
                        str(round(base["monthly_cost_usd"] - s["monthly_cost_usd"], 2))
                    ),
                    current_monthly_cost_usd=Decimal(str(base["monthly_cost_usd"])),
                    confidence=confidence_from(bt, coverage, calibrated),
                    slo_risk=bt["risk"] if bt else _risk(base, s),
                    evidence_start=inputs.start,
                    evidence_end=inputs.end,
                    assumptions=assumptions,
                    evidence={
                        "current": base,
                        "proposed": s,
                        "sample_hours": round(inputs.sample_hours, 1),
                        "calibration": cal_json,
                        "calibrated": calibrated,
                        "backtest": bt,
                        "sources": _sources(inputs),
                    },
                    proposal={"services": [service.slug], "window_days": window_days, **params},
                )
            )
    return recs


def _sources(inputs: engine.ServiceInputs) -> dict[str, str]:
    """Where each figure on a recommendation comes from (shown beside it)."""
    return {
        "current_cost": "simulator replay of the evidence window as deployed (calibrated against the bill below)",
        "proposed_cost": "simulator, same demand and random draws, proposed configuration",
        "slo": "simulated per-minute p95 pooled by hour (one SLO definition, costmodels.slo)",
        "billed_compute": "bill (billing.reports): the service's own instance-hours on its instance types; shared-node share shown apart",
        "confidence": f"backtest: chosen on the first {TRAIN_SHARE:.0%} of the window, replayed on the rest",
        "prices": f"catalog: {', '.join(f'{k} {v}' for k, v in inputs.offer.price_source.items() if v)}",
    }


def refresh_all_recommendations() -> int:
    return sum(len(generate_recommendations(s)) for s in Service.objects.all())
