"""Recommendations from the cost models, what-if runs in steps, and promotion into a plan.

Recommendations: for each service the current configuration and a set of candidates are
simulated together over the evidence window (one vectorised simulator call):

* **right-size** -- the six GPU instance types of the deployment's provider and region whose
  memory holds the model and whose on-demand price per request served is lowest;
* **commitment** -- the commitment level of :func:`costmodels.commitment.optimal_commitment_level`
  (exact method, whole replicas) over the simulated replica series;
* **spot-share** -- 25 / 50 / 75 % of the non-committed replicas on spot (where priced);
* **threshold** -- GPU-utilisation targets 50-90 % and a shorter scale-down window.

Per kind the cheapest candidate whose SLO attainment is no worse than the current one by more
than 0.5 percentage point is advised, if it saves at least $10 and 1 % a month. SLO risk: *high*
when attainment is below 90 % or drops by more than 0.5 pp; *low* when attainment does not drop
and no spot interruptions are added; otherwise *medium*. Confidence: the share of a full 14-day
evidence window covered by samples, times 0.6 when GPU time came from modality defaults.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from costmodels.commitment import optimal_commitment_level
from planner.core.models import Service
from planner.plans.errors import PlanError
from planner.whatif import engine
from planner.whatif.models import (
    Recommendation,
    RecommendationStatus,
    Scenario,
    ScenarioStatus,
    SloRisk,
)

log = logging.getLogger(__name__)
RECOMMENDATION_WINDOW_DAYS = 14
MIN_SAVINGS_USD, MIN_SAVINGS_SHARE, SLO_TOLERANCE = 10.0, 0.01, 0.005
RIGHT_SIZE_CANDIDATES = 6
SLO_FLOOR = 0.9  # below this attainment a proposal is always high risk


def _candidates(
    inputs: engine.ServiceInputs, base_replicas: np.ndarray | None
) -> list[tuple[str, str, dict]]:
    """(kind, title, what-if parameters) for every candidate of one service."""
    out: list[tuple[str, str, dict]] = []
    dep, offer = inputs.deployment, inputs.offer
    need_gib = engine.capacity_for(inputs, offer).memory_required_gib_
    sized = []
    for o in engine.catalog().offers(provider=dep.provider, region=dep.region):
        if (
            o.instance_type == offer.instance_type
            or o.gpu_memory_gib * max(o.gpu_count, 1) < need_gib
        ):
            continue
        try:
            cap = engine.capacity_for(inputs, o)
        except ValueError:  # GPU the capacity model has no speed factor for
            continue
        sized.append((o.ondemand_usd_per_hour / cap.throughput_rps_, o))
    for _, o in sorted(sized, key=lambda x: x[0])[
        :RIGHT_SIZE_CANDIDATES
    ]:  # cheapest per request served
        out.append(
            (
                "right-size",
                f"Move to {o.instance_type} ({o.gpu_model})",
                {"instance_type": o.instance_type},
            )
        )
    if base_replicas is not None and offer.commit_usd_per_hour("1y"):
        level = int(optimal_commitment_level(base_replicas, offer.commit_usd_per_hour("1y"), offer.ondemand_usd_per_hour,
                                             method="exact", integer=True))  # fmt: skip
        if level != inputs.mix.committed_replicas:
            out.append(("commitment", f"Commit to {level} replicas of {offer.instance_type} for 1 year",
                        {"committed_replicas": level, "commitment_term": "1y"}))  # fmt: skip
    if offer.spot_usd_per_hour:
        for share in (0.25, 0.5, 0.75):
            if abs(share - inputs.mix.spot_share) > 0.01:
                out.append(
                    (
                        "spot-share",
                        f"Run {share:.0%} of burst replicas on spot",
                        {"spot_share": share},
                    )
                )
    for target in (50.0, 60.0, 80.0, 90.0):
        out.append(
            (
                "threshold",
                f"Scale on GPU utilisation {target:.0f} %",
                {"metric": "gpu_utilisation", "target": target},
            )
        )
    out.append(("threshold", "Scale down after 2 minutes instead of 5",
                {"scale_down_stabilisation_s": 120, "cooldown_s": 120}))  # fmt: skip
    return out


def _risk(base: dict, cand: dict) -> str:
    drop = base["slo_attainment"] - cand["slo_attainment"]
    more_interruptions = cand["spot_interruptions"] > base["spot_interruptions"]
    if cand["slo_attainment"] < SLO_FLOOR:
        return SloRisk.HIGH
    if drop <= 0 and not more_interruptions:
        return SloRisk.LOW
    return SloRisk.MEDIUM if drop <= SLO_TOLERANCE else SloRisk.HIGH


def generate_recommendations(
    service: Service, window_days: int = RECOMMENDATION_WINDOW_DAYS
) -> list[Recommendation]:
    """Replace the service's open recommendations with fresh ones (decided ones are kept)."""
    try:
        inputs = engine.load_inputs(service, window_days=window_days)
    except engine.ScenarioInputError as exc:
        log.info("no recommendations for %s: %s", service.slug, exc)
        with transaction.atomic():
            Recommendation.objects.filter(
                service=service, status=RecommendationStatus.OPEN
            ).delete()
        return []
    base_v = engine.baseline(inputs)
    base_r = engine.run(inputs, [base_v], keep_series=True)[0]
    base = engine.summary(base_r, base_v)
    cands = _candidates(inputs, np.asarray(base_r.replicas, float))
    variants, kept = [], []
    for kind, title, params in cands:
        try:
            variants.append(engine.variant(inputs, params))
            kept.append((kind, title, params))
        except engine.ScenarioInputError:
            continue
    results = engine.run(inputs, variants) if variants else []
    best: dict[str, tuple[dict, str, dict]] = {}
    for (kind, title, params), v, r in zip(kept, variants, results, strict=True):
        s = engine.summary(r, v)
        saving = base["monthly_cost_usd"] - s["monthly_cost_usd"]
        if s["slo_attainment"] < base["slo_attainment"] - SLO_TOLERANCE:
            continue
        if saving < max(MIN_SAVINGS_USD, MIN_SAVINGS_SHARE * base["monthly_cost_usd"]):
            continue
        if kind not in best or s["monthly_cost_usd"] < best[kind][0]["monthly_cost_usd"]:
            best[kind] = (s, title, params)
    coverage = min(1.0, inputs.sample_hours / (RECOMMENDATION_WINDOW_DAYS * 24.0))
    confidence = round(coverage * (1.0 if inputs.fitted_from_samples else 0.6), 2)
    assumptions = [
        f"Demand: recorded request rates of {service.name} over {window_days} days, replayed minute by minute",
        f"Current autoscaler taken as {inputs.policy.label}",
        f"Current purchase mix from the bills: {inputs.mix.committed_replicas} committed replicas, "
        f"{inputs.mix.spot_share:.0%} of the rest on spot",
        f"Prices: {inputs.offer.provider} list prices for {inputs.offer.region} (catalog sources: "
        f"{', '.join(f'{k} {v}' for k, v in inputs.offer.price_source.items() if v)})",
        "Monthly figures are per 730-hour month; SLO attainment = share of minutes with p95 within "
        f"{service.latency_slo_p95_ms} ms",
        *inputs.notes,
    ]
    recs = []
    with transaction.atomic():
        Recommendation.objects.filter(service=service, status=RecommendationStatus.OPEN).delete()
        for kind, (s, title, params) in best.items():
            recs.append(Recommendation.objects.create(
                kind=kind, service=service, title=title,
                monthly_savings_usd=Decimal(str(round(base["monthly_cost_usd"] - s["monthly_cost_usd"], 2))),
                current_monthly_cost_usd=Decimal(str(base["monthly_cost_usd"])),
                confidence=confidence, slo_risk=_risk(base, s),
                evidence_start=inputs.start, evidence_end=inputs.end, assumptions=assumptions,
                evidence={"current": base, "proposed": s, "sample_hours": round(inputs.sample_hours, 1)},
                proposal={"services": [service.slug], "window_days": window_days, **params},
            ))  # fmt: skip
    return recs


def refresh_all_recommendations() -> int:
    return sum(len(generate_recommendations(s)) for s in Service.objects.all())


# --- what-if scenarios ---------------------------------------------------------------------


def _claim(scenario_id: int) -> Scenario | None:
    """Lock the scenario row; None when it is already finished (safe to call twice)."""
    s = Scenario.objects.select_for_update().get(pk=scenario_id)
    return None if s.status in (ScenarioStatus.SUCCEEDED, ScenarioStatus.FAILED) else s


def run_scenario_steps(scenario_id: int, max_steps: int | None = None) -> Scenario:
    """Advance a scenario by up to ``max_steps`` services (all when None). One step simulates
    one service's baseline and variant; the last step totals them. Idempotent: a finished
    scenario is returned unchanged, and a step done twice writes the same figures."""
    steps = 0
    while max_steps is None or steps < max_steps:
        with transaction.atomic():
            s = _claim(scenario_id)
            if s is None:
                break
            slugs = list(s.parameters.get("services") or [])
            done = s.result.setdefault("services", {})
            todo = [x for x in slugs if x not in done]
            if not todo:
                _finish(s)
                break
            slug = todo[0]
            s.status = ScenarioStatus.RUNNING
            try:
                done[slug] = simulate_service(Service.objects.get(slug=slug), s.parameters)
            except (engine.ScenarioInputError, Service.DoesNotExist) as exc:
                s.status, s.error, s.finished_at = ScenarioStatus.FAILED, str(exc), timezone.now()
                s.progress_message = "Failed"
                s.save()
                break
            s.progress = round(len(done) / (len(slugs) + 1), 3)
            s.progress_message = f"Simulated {len(done)} of {len(slugs)} services ({slug})"
            s.save(update_fields=["status", "progress", "progress_message", "result"])
        steps += 1
    return Scenario.objects.get(pk=scenario_id)


def simulate_service(service: Service, params: dict) -> dict:
    inputs = engine.load_inputs(
        service, window_days=int(params.get("window_days") or engine.DEFAULT_WINDOW_DAYS)
    )
    base_v, scn_v = engine.baseline(inputs), engine.variant(inputs, params)
    base_r, scn_r = engine.run(inputs, [base_v, scn_v], keep_series=True)
    return {
        "name": service.name, "slo_p95_ms": service.latency_slo_p95_ms,
        "start": inputs.start.isoformat(), "end": inputs.end.isoformat(), "step_s": 60,
        "baseline": engine.summary(base_r, base_v), "scenario": engine.summary(scn_r, scn_v),
        "demand_rpm": np.round(inputs.demand_per_min, 2).tolist(),
        "series": {"baseline": engine.series(base_r), "scenario": engine.series(scn_r)},
        "notes": inputs.notes, "deployment": inputs.deployment.name,
    }  # fmt: skip


def _finish(s: Scenario) -> None:
    services = s.result.get("services", {})
    totals = {}
    for side in ("baseline", "scenario"):
        cats: dict[str, float] = {}
        for r in services.values():
            for k, v in r[side]["monthly_cost_usd_by_category"].items():
                cats[k] = round(cats.get(k, 0.0) + v, 2)
        minutes = [len(r["series"][side]["replicas"]) for r in services.values()]
        att = [r[side]["slo_attainment"] for r in services.values()]
        totals[side] = {
            "monthly_cost_usd": round(
                sum(r[side]["monthly_cost_usd"] for r in services.values()), 2
            ),
            "monthly_cost_usd_by_category": cats,
            "slo_attainment": round(float(np.average(att, weights=minutes)), 5) if att else None,
            "cold_starts": sum(r[side]["cold_starts"] for r in services.values()),
            "spot_interruptions": sum(r[side]["spot_interruptions"] for r in services.values()),
            "dropped_requests": sum(r[side]["dropped_requests"] for r in services.values()),
        }
    totals["monthly_savings_usd"] = round(
        totals["baseline"]["monthly_cost_usd"] - totals["scenario"]["monthly_cost_usd"], 2
    )
    s.result["totals"] = totals
    s.status, s.progress, s.progress_message, s.finished_at = (
        ScenarioStatus.SUCCEEDED,
        1.0,
        "Done",
        timezone.now(),
    )
    s.save()


DEFAULTS = {
    "batch_size": 1,
    "quantisation": "fp16",
    "cache_hit_rate": 0.0,
    "warm_pool": 0,
    "commitment_term": "1y",
}


def scenario_name(params: dict) -> str:
    """A readable name from the parameters that differ from the current configuration."""
    changes = [
        f"{k.replace('_', ' ')} {v}"
        for k, v in params.items()
        if k not in ("services", "window_days")
        and v not in (None, "")
        and DEFAULTS.get(k, object()) != v
    ]
    return (
        f"{', '.join(params.get('services', []))}: {'; '.join(changes) or 'current configuration'}"[
            :200
        ]
    )


# --- promotion into a plan -----------------------------------------------------------------


def promote_to_plan(scenario: Scenario, user) -> object:
    """Create a draft plan with one decision per service of a finished scenario."""
    if scenario.status != ScenarioStatus.SUCCEEDED:
        raise PlanError("only a finished scenario can be promoted; run it first")
    from django.conf import settings

    from planner.plans.exports.decision import PlanDecision, PrometheusMetric
    from planner.plans.services import create_plan_from_decisions

    p = scenario.parameters
    decisions = []
    for slug, r in scenario.result["services"].items():
        dep = engine.primary_deployment(Service.objects.get(slug=slug))
        scn = r["scenario"]
        metric = p.get("metric") or engine.BASELINE_METRIC
        query = (f'avg(DCGM_FI_DEV_GPU_UTIL{{namespace="{dep.namespace}",pod=~"{dep.name}-.*"}})'
                 if metric == "gpu_utilisation" else
                 f'sum(rate(http_requests_total{{namespace="{dep.namespace}",service="{slug}"}}[2m]))')  # fmt: skip
        mix = scn["mix"]
        spot = float(mix["spot_share"])
        caps = (
            ["on-demand"]
            + (["spot"] if spot > 0 else [])
            + (["reserved"] if mix["committed_replicas"] else [])
        )
        decisions.append(PlanDecision(
            service_slug=slug, namespace=dep.namespace or "default", cluster=dep.cluster or "default",
            deployment_name=dep.name, provider=dep.provider,
            instance_types=(scn["instance_type"].split(" (")[0],), mig_profile=p.get("mig_profile") or "",
            min_replicas=int(p.get("min_replicas") or dep.min_replicas),
            max_replicas=int(p.get("max_replicas") or dep.max_replicas),
            warm_pool_replicas=int(p.get("warm_pool") or 0),
            metric=PrometheusMetric(server_address=settings.PROMETHEUS_URL or "http://prometheus.monitoring:9090",
                                    query=query, threshold=float(p.get("target") or engine.BASELINE_TARGET)),
            gpus_per_replica=max(1, int(round(dep.gpu_count))), spot_share=spot, capacity_types=tuple(caps),
            expected_monthly_cost_usd=float(scn["monthly_cost_usd"]), slo_attainment=float(scn["slo_attainment"]),
        ))  # fmt: skip
    return create_plan_from_decisions(
        decisions,
        name=f"From what-if: {scenario.name}"[:200],
        created_by=user,
        source_scenario_id=scenario.pk,
        notes=f"Promoted from scenario #{scenario.pk} on {dt.date.today():%Y-%m-%d}",
    )
