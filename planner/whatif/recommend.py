"""Recommendations from the cost models, each with its calibration and a backtest.

For each service the current configuration and a set of candidates are simulated together over
the evidence window (one vectorised simulator call per window):

* **right-size** -- the GPU instance types (and MIG slices) of the deployment's provider and
  region whose memory holds the model and whose on-demand price per request served is lowest;
* **commitment** -- the level of :func:`costmodels.commitment.optimal_commitment_level`
  (exact method, whole replicas) over the simulated replica series;
* **spot-share** -- 25 / 50 / 75 % of the non-committed replicas on spot (where priced);
* **threshold** -- GPU-utilisation targets around the inferred current one, a shorter
  scale-down window, a warm pool.

Per kind the cheapest candidate whose SLO attainment (:mod:`costmodels.slo`) is no worse than
the current one by more than 0.5 point is advised, if it saves at least $10 and 1 % a month.
A service missing its SLO (attainment < 95 %) gets the cheapest candidate that meets it, even
at a cost ("Meet the SLO: ...").

**Backtest**: the same choice is made on the first :data:`TRAIN_SHARE` of the window and the
chosen configuration replayed on the held-out rest; predicted (earlier part) and realised
(held-out part) savings and SLO are stored with the recommendation. **Confidence** = realised /
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

import numpy as np
from django.db import transaction

from costmodels.commitment import optimal_commitment_level
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


def _candidates(inputs: engine.ServiceInputs, base_replicas: np.ndarray | None) -> list:
    """(kind, title, what-if parameters) for every candidate of one service."""
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
    if base_replicas is not None and offer.commit_usd_per_hour("1y"):
        level = int(optimal_commitment_level(base_replicas, offer.commit_usd_per_hour("1y"), offer.ondemand_usd_per_hour,
                                             method="exact", integer=True))  # fmt: skip
        if level != inputs.mix.committed_replicas:
            out.append(("commitment", f"Commit to {level} replicas of {offer.instance_type} for 1 year",
                        {"committed_replicas": level, "commitment_term": "1y"}))  # fmt: skip
    if offer.spot_usd_per_hour:
        for share in (0.25, 0.5, 0.75):
            if abs(share - inputs.mix.spot_share) > 0.01:
                out.append(("spot-share", f"Run {share:.0%} of burst replicas on spot", {"spot_share": share}))  # fmt: skip
    current = inputs.policy.target
    targets = sorted(
        {t for t in (50.0, 60.0, 70.0, 80.0, 90.0, current - 10, current - 20) if 20 <= t <= 100}
    )
    for target in targets:
        if abs(target - current) > 0.5:
            out.append(("threshold", f"Scale on GPU utilisation {target:.0f} %", {"metric": "gpu_utilisation", "target": target}))  # fmt: skip
    out.append(("threshold", "Scale down after 2 minutes instead of 5",
                {"scale_down_stabilisation_s": 120, "cooldown_s": 120}))  # fmt: skip
    for pool in (1, 2):
        out.append(("threshold", f"Keep a warm pool of {pool} stopped replica{'s' * (pool > 1)}", {"warm_pool": pool}))  # fmt: skip
    return out


def _risk(base: dict, cand: dict) -> str:
    drop = base["slo_attainment"] - cand["slo_attainment"]
    more_interruptions = cand["spot_interruptions"] > base["spot_interruptions"]
    if cand["slo_attainment"] < SLO_FLOOR:
        return SloRisk.HIGH
    if drop <= 0 and not more_interruptions:
        return SloRisk.LOW
    return SloRisk.MEDIUM if drop <= SLO_TOLERANCE else SloRisk.HIGH


def _choose(inputs: engine.ServiceInputs, cands: list) -> tuple[dict, dict]:
    """(current summary, {kind: (summary, title, params)}) on the inputs' window."""
    base_v = engine.baseline(inputs)
    variants, kept = [base_v], []
    for kind, title, params in cands:
        try:
            variants.append(engine.variant(inputs, params))
            kept.append((kind, title, params))
        except engine.ScenarioInputError:
            continue
    results = engine.run(inputs, variants, keep_series=True)
    base = engine.summary(results[0], base_v, inputs.latency_bounds_ms)
    base_cost = base["monthly_cost_usd"]
    best: dict[str, tuple[dict, str, dict]] = {}
    meet: tuple[dict, str, dict] | None = None
    for (kind, title, params), v, r in zip(kept, variants[1:], results[1:], strict=True):
        s = engine.summary(r, v, inputs.latency_bounds_ms)
        fixes = base["slo_attainment"] < SLO_MET_ATTAINMENT <= s["slo_attainment"]
        if fixes and (meet is None or s["monthly_cost_usd"] < meet[0]["monthly_cost_usd"]):
            meet = (s, f"Meet the SLO: {title[0].lower()}{title[1:]}", {"_kind": kind, **params})
        if s["slo_attainment"] < base["slo_attainment"] - SLO_TOLERANCE:
            continue
        if base_cost - s["monthly_cost_usd"] < max(MIN_SAVINGS_USD, MIN_SAVINGS_SHARE * base_cost):
            continue
        if kind not in best or s["monthly_cost_usd"] < best[kind][0]["monthly_cost_usd"]:
            best[kind] = (s, title, params)
    if meet is not None:
        best["slo"] = meet
    return base, best


def _split(inputs: engine.ServiceInputs) -> tuple[engine.ServiceInputs, engine.ServiceInputs]:
    cut = int(round(inputs.demand_per_min.size * TRAIN_SHARE))
    at = inputs.start + (inputs.end - inputs.start) * TRAIN_SHARE
    train = dataclasses.replace(inputs, demand_per_min=inputs.demand_per_min[:cut], end=at)
    test = dataclasses.replace(inputs, demand_per_min=inputs.demand_per_min[cut:], start=at)
    return train, test


def backtest(inputs: engine.ServiceInputs, cands: list) -> dict[str, dict]:
    """Per kind: chosen on the earlier part, replayed on the held-out later part."""
    train, test = _split(inputs)
    if train.demand_per_min.size < 60 or test.demand_per_min.size < 60:
        return {}
    base_train, chosen = _choose(train, cands)
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
            "predicted_savings_usd": round(base_train["monthly_cost_usd"] - s["monthly_cost_usd"], 2),
            "realised_savings_usd": round(base_test["monthly_cost_usd"] - real["monthly_cost_usd"], 2),
            "predicted_slo_attainment": s["slo_attainment"],
            "realised_slo_attainment": real["slo_attainment"],
            "current_slo_attainment_held_out": base_test["slo_attainment"],
            "risk": _risk(base_test, real),
        }  # fmt: skip
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
    base_r = engine.run(inputs, [engine.baseline(inputs)], keep_series=True)[0]
    cands = _candidates(inputs, np.asarray(base_r.replicas, float))
    base, best = _choose(inputs, cands)
    bts = backtest(inputs, cands)
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
        ServiceCalibration.objects.update_or_create(service=service, defaults={
            "evidence_start": inputs.start, "evidence_end": inputs.end, "figures": cal_json,
            "backtest": bts, "calibrated": calibrated,
        })  # fmt: skip
        Recommendation.objects.filter(service=service, status=RecommendationStatus.OPEN).delete()
        for key, (s, title, params) in best.items():
            kind = params.pop("_kind", key)
            bt = bts.get(key)
            recs.append(Recommendation.objects.create(
                kind=kind, service=service, title=title,
                monthly_savings_usd=Decimal(str(round(base["monthly_cost_usd"] - s["monthly_cost_usd"], 2))),
                current_monthly_cost_usd=Decimal(str(base["monthly_cost_usd"])),
                confidence=confidence_from(bt, coverage, calibrated),
                slo_risk=bt["risk"] if bt else _risk(base, s),
                evidence_start=inputs.start, evidence_end=inputs.end, assumptions=assumptions,
                evidence={"current": base, "proposed": s, "sample_hours": round(inputs.sample_hours, 1),
                          "calibration": cal_json, "calibrated": calibrated, "backtest": bt,
                          "sources": _sources(inputs)},
                proposal={"services": [service.slug], "window_days": window_days, **params},
            ))  # fmt: skip
    return recs


def _sources(inputs: engine.ServiceInputs) -> dict[str, str]:
    """Where each figure on a recommendation comes from (shown beside it)."""
    return {
        "current_cost": "simulator replay of the evidence window as deployed (calibrated against the bill below)",
        "proposed_cost": "simulator, same demand and random draws, proposed configuration",
        "slo": "simulated per-minute p95 pooled by hour (one SLO definition, costmodels.slo)",
        "billed_compute": "bill: the service's cost on its instance types + shared-node share (billing attribution)",
        "confidence": f"backtest: chosen on the first {TRAIN_SHARE:.0%} of the window, replayed on the rest",
        "prices": f"catalog: {', '.join(f'{k} {v}' for k, v in inputs.offer.price_source.items() if v)}",
    }  # fmt: skip


def refresh_all_recommendations() -> int:
    return sum(len(generate_recommendations(s)) for s in Service.objects.all())
