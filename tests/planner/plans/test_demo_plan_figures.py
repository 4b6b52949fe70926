"""The demo plans' cost and SLO figures are the planning engine's replay of their Config by the
one SLO definition: the plan page and the services page agree for the same service and config."""

from __future__ import annotations

import pytest
from django.urls import reverse

from planner.core.models import Service
from planner.plans.demo import PLAN_EVIDENCE_DAYS, _right_sized, seed_demo_plans
from planner.whatif import engine, services
from planner.whatif.models import Scenario

SLUG = "embeddings"


@pytest.mark.django_db
def test_as_deployed_plan_shows_the_services_page_slo_figure(demo_fleet, viewer_client):
    """v1 'As deployed' is the as-deployed Config replayed over the evidence window; the
    services page's calibration replays the same Config over the same window."""
    service = Service.objects.get(slug=SLUG)
    services.generate_recommendations(service)  # stores the calibration the services page shows
    v1, _ = seed_demo_plans()
    assert v1.name == "As deployed"
    decision = v1.decisions.get(service__slug=SLUG)
    page = viewer_client.get(reverse("services"))
    (row,) = [r for r in page.context["rows"] if r["service"].slug == SLUG]
    shown = row["calibration"].figures["simulated_slo_attainment"]
    assert decision.slo_attainment == pytest.approx(shown, abs=1e-4)  # 4 vs 5 decimals
    plan_page = viewer_client.get(reverse("plan-detail", args=[v1.pk])).content.decode()
    assert f'<td class="num">{decision.slo_attainment:.4f}</td>' in plan_page
    # and the figure is the replay itself (not a constant): the what-if baseline of the service
    inputs = engine.load_inputs(service, window_days=PLAN_EVIDENCE_DAYS)
    base_v = engine.baseline(inputs)
    base = engine.summary(engine.evaluate(inputs, [base_v])[0], base_v)
    assert decision.slo_attainment == pytest.approx(base["slo_attainment"], abs=1e-9)
    assert float(decision.expected_monthly_cost_usd) == pytest.approx(
        base["monthly_cost_usd"], abs=0.01
    )


@pytest.mark.django_db
def test_right_sized_plan_figures_are_a_what_if_of_its_config(demo_fleet, analyst):
    service = Service.objects.get(slug=SLUG)
    inputs = engine.load_inputs(service, window_days=PLAN_EVIDENCE_DAYS)
    params = {"services": [SLUG], "window_days": PLAN_EVIDENCE_DAYS, **_right_sized(inputs)}
    s = Scenario.objects.create(name="demo v2 config", parameters=params, created_by=analyst)
    scn = services.run_scenario_steps(s.pk).result["services"][SLUG]["scenario"]
    _, v2 = seed_demo_plans()
    decision = v2.decisions.get(service__slug=SLUG)
    assert decision.slo_attainment == pytest.approx(scn["slo_attainment"], abs=1e-9)
    assert float(decision.expected_monthly_cost_usd) == pytest.approx(
        scn["monthly_cost_usd"], abs=0.01
    )
    assert decision.min_replicas == params["min_replicas"]
