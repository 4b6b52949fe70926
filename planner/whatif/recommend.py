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
from planner.whatif import calibration, engine, proposals
from planner.whatif.models import (
    Recommendation,
    RecommendationStatus,
    ServiceCalibration,
    SloRisk,
)
from planner.whatif.proposals import (  # noqa: F401 - the recommendations' public names
    MIN_SAVINGS_SHARE,
    MIN_SAVINGS_USD,
    SLO_TOLERANCE,
)

log = logging.getLogger(__name__)
RECOMMENDATION_WINDOW_DAYS = 14
SLO_FLOOR = 0.9  # below this attainment a proposal is always high risk
TRAIN_SHARE = 5.0 / 7.0  # backtest: choose on the first 10 of 14 days, replay the last 4


def _risk(base: dict, cand: dict) -> str:
    drop = base["slo_attainment"] - cand["slo_attainment"]
    more_interruptions = cand["spot_interruptions"] > base["spot_interruptions"]
    if cand["slo_attainment"] < SLO_FLOOR:
        return SloRisk.HIGH
    if drop <= 0 and not more_interruptions:
        return SloRisk.LOW
    return SloRisk.MEDIUM if drop <= SLO_TOLERANCE else SloRisk.HIGH


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
    base_train, chosen = proposals.choose(train)
    if not chosen:
        return {}
    base_v = engine.baseline(test)
    picks = [
        (k, engine.variant(test, {p: x for p, x in c[2].items() if p != "_kind"}))
        for k, c in chosen.items()
    ]
    results = engine.evaluate(test, [base_v] + [v for _, v in picks])
    base_test = engine.summary(results[0], base_v)
    out = {}
    for (kind, v), r in zip(picks, results[1:], strict=True):
        s, title, _ = chosen[kind]
        real = engine.summary(r, v)
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
    base, best = proposals.choose(inputs)
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
