"""What-if runs in steps and promotion into a plan; recommendations live in
:mod:`planner.whatif.recommend` (re-exported here for existing callers)."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
from django.db import transaction
from django.utils import timezone

from planner.core.models import Service
from planner.plans.errors import PlanError
from planner.whatif import engine
from planner.whatif.models import Scenario, ScenarioStatus
from planner.whatif.recommend import (  # noqa: F401 - the recommendations' public names
    MIN_SAVINGS_SHARE,
    MIN_SAVINGS_USD,
    RECOMMENDATION_WINDOW_DAYS,
    SLO_FLOOR,
    SLO_TOLERANCE,
    generate_recommendations,
    refresh_all_recommendations,
)

log = logging.getLogger(__name__)


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
    base_r, scn_r = engine.evaluate(inputs, [base_v, scn_v])
    return {
        "name": service.name,
        "slo_p95_ms": service.latency_slo_p95_ms,
        "start": inputs.start.isoformat(),
        "end": inputs.end.isoformat(),
        "step_s": 60,
        "baseline": engine.summary(base_r, base_v),
        "scenario": engine.summary(scn_r, scn_v),
        "demand_rpm": np.round(inputs.demand_per_min, 2).tolist(),
        "series": {"baseline": engine.series(base_r), "scenario": engine.series(scn_r)},
        "notes": inputs.notes,
        "deployment": inputs.deployment.name,
    }


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


def plan_decision(slug: str, figures: dict):
    """The plan decision for a simulated configuration (``figures``: a what-if side or a
    recommendation's proposal, as :func:`engine.summary` records them), through the one path
    :func:`planner.plans.from_simulation.decision_for_config`."""
    from planner.plans.exports.errors import ExportRefused
    from planner.plans.from_simulation import decision_for_config

    dep = engine.primary_deployment(Service.objects.get(slug=slug))
    if "config" not in figures:
        raise PlanError(f"{slug}: simulated before configurations were recorded; run it again")
    try:
        return decision_for_config(
            dep,
            figures["config"],
            expected_monthly_cost_usd=figures["monthly_cost_usd"],
            slo_attainment=figures["slo_attainment"],
        )
    except ExportRefused as exc:
        raise PlanError(str(exc)) from exc


def promote_to_plan(scenario: Scenario, user) -> object:
    """Create a draft plan with one decision per service of a finished scenario."""
    if scenario.status != ScenarioStatus.SUCCEEDED:
        raise PlanError("only a finished scenario can be promoted; run it first")
    from planner.plans.services import create_plan_from_decisions

    decisions = [
        plan_decision(slug, r["scenario"]) for slug, r in scenario.result["services"].items()
    ]
    return create_plan_from_decisions(
        decisions,
        name=f"From what-if: {scenario.name}"[:200],
        created_by=user,
        source_scenario_id=scenario.pk,
        notes=f"Promoted from scenario #{scenario.pk} on {dt.date.today():%Y-%m-%d}",
    )


def plan_from_recommendation(rec, user) -> object:
    """A draft plan of an accepted recommendation's configuration (the same decision a what-if
    of its proposal promotes to)."""
    from planner.plans.services import create_plan_from_decisions
    from planner.whatif.models import RecommendationStatus

    if rec.status != RecommendationStatus.ACCEPTED:
        raise PlanError("accept the recommendation first; only accepted advice becomes a plan")
    # a recommendation stored before proposals were recorded has none: plan_decision refuses it
    proposed = (rec.evidence or {}).get("proposed", {})
    return create_plan_from_decisions(
        [plan_decision(rec.service.slug, proposed)],
        name=f"From recommendation: {rec.title}"[:200],
        created_by=user,
        notes=f"Accepted recommendation #{rec.pk} on {dt.date.today():%Y-%m-%d}",
    )
