"""One path from the planning engine to a plan: a promoted what-if and an accepted recommendation
with the same Config give the same decision, and the engine never recommends what the
deployment's export target would refuse."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import reverse

from costmodels.engine import Config, Option
from costmodels.results import AutoscalingPolicy, PurchaseMix
from planner.core.models import Service
from planner.plans.exports.autoscalers import render_scaled_object
from planner.plans.exports.simulated import refusals
from planner.plans.from_simulation import admissible_for, export_target_for
from planner.plans.models import Plan
from planner.whatif import engine, services
from planner.whatif.models import RecommendationStatus, Scenario


def _deployment(slug):
    return engine.primary_deployment(Service.objects.get(slug=slug))


@pytest.mark.django_db
def test_promoted_what_if_and_accepted_recommendation_give_the_same_decision(
    client, demo_fleet, analyst
):
    recs = services.generate_recommendations(Service.objects.get(slug="embeddings"), window_days=3)
    rec = next(r for r in recs if r.kind == "plan")
    client.force_login(analyst)
    client.post(
        reverse("recommendation-decide", args=[rec.pk]),
        {"status": "accepted", "reason": "joint optimum"},
    )
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.ACCEPTED
    from_rec = Plan.objects.get(name=f"From recommendation: {rec.title}"[:200])  # drafted on accept
    s = Scenario.objects.create(name="same config", parameters=rec.proposal, created_by=analyst)
    from_what_if = services.promote_to_plan(services.run_scenario_steps(s.pk), analyst)
    (a,), (b,) = from_rec.as_decisions(), from_what_if.as_decisions()
    assert a == b
    assert render_scaled_object(a) == render_scaled_object(b)
    # and the decision is the recommended Config itself
    p = rec.proposal
    assert (a.min_replicas, a.max_replicas, a.warm_pool_replicas) == (
        p["min_replicas"],
        p["max_replicas"],
        p["warm_pool"],
    )
    assert a.metric.threshold == pytest.approx(p["target"]) and a.spot_share == p["spot_share"]
    assert a.instance_types == (p["instance_type"],) and a.mig_profile == p["mig_profile"]
    assert a.expected_monthly_cost_usd == rec.evidence["proposed"]["monthly_cost_usd"]


@pytest.mark.django_db
def test_admissibility_follows_the_declared_export_target(demo_fleet):
    dep = _deployment("embeddings")
    assert admissible_for(dep) is None  # no target declared: nothing is filtered (unchecked)
    dep.autoscaler = "keda"
    ok = admissible_for(dep)
    opt = Option("x", None, None)
    plain = AutoscalingPolicy(metric="gpu_utilisation", target=60.0, cooldown_s=60.0)
    warm = dataclasses.replace(plain, warm_pool=1)
    assert ok(opt, Config(0, plain, PurchaseMix()))
    assert not ok(opt, Config(0, warm, PurchaseMix()))  # placeholder pods need the serving image
    why = refusals("keda", warm, PurchaseMix(), export_target_for(dep))
    assert any("warm pool" in r for r in why)
    dep.autoscaler = "karpenter"
    assert not admissible_for(dep)(opt, Config(0, plain, PurchaseMix(2, 0.5)))


@pytest.mark.django_db
def test_a_target_that_cannot_hold_a_warm_pool_never_gets_one_recommended(demo_fleet, analyst):
    dep = _deployment("embeddings")
    dep.autoscaler = "keda"  # without a serving image KEDA cannot keep placeholder pods warm
    dep.save(update_fields=["autoscaler"])
    recs = services.generate_recommendations(dep.service, window_days=3)
    assert recs, "the target still leaves configurations to recommend"
    target = export_target_for(dep)
    for rec in recs:
        cfg = rec.evidence["proposed"]["config"]
        assert rec.proposal["warm_pool"] == 0 and cfg["policy"]["warm_pool"] == 0
        policy, mix = AutoscalingPolicy(**cfg["policy"]), PurchaseMix(**cfg["mix"])
        assert refusals("keda", policy, mix, target) == []
        rec.decide(RecommendationStatus.ACCEPTED, analyst, "the target can run it")
        assert services.plan_from_recommendation(rec, analyst).decisions.count() == 1


@pytest.mark.django_db
def test_a_target_that_can_express_nothing_gets_no_recommendation(demo_fleet):
    dep = _deployment("embeddings")
    dep.autoscaler = "aws"  # no SageMaker variant named: the AWS export refuses every config
    dep.save(update_fields=["autoscaler"])
    assert services.generate_recommendations(dep.service, window_days=3) == []
