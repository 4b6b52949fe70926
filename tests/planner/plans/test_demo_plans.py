"""Demo plans and decision_from_deployment against the real demo fleet rows."""

from __future__ import annotations

import pytest

from costmodels.catalog import PriceCatalog
from planner.core.seeding import ensure_fleet
from planner.plans.demo import (
    decision_from_deployment,
    dns_label,
    monthly_cost_usd,
    seed_demo_plans,
)
from planner.plans.exports.bundle import build_bundle
from planner.plans.models import Plan, PlanStatus

pytestmark = pytest.mark.django_db


def test_decision_from_deployment_defaults_and_overrides():
    dep = next(iter(ensure_fleet().values()))
    d = decision_from_deployment(dep, spot_share=0.4, max_replicas=dep.max_replicas + 2)
    assert d.service_slug == dep.service.slug
    assert d.instance_types == (dep.instance_type,)
    assert d.metric.threshold == pytest.approx(round(dep.throughput_rps_per_replica * 0.7, 3))
    assert d.capacity_types == ("spot", "on-demand")
    assert d.max_replicas == dep.max_replicas + 2
    assert dns_label("Chat_LLM prod") == "chat-llm-prod"


def test_monthly_cost_is_blended_price_times_hours():
    dep = next(iter(ensure_fleet().values()))
    offer = PriceCatalog.load_default().offer(dep.provider, dep.instance_type, dep.region)
    spot = offer.spot_usd_per_hour or offer.ondemand_usd_per_hour
    expected = 3 * (0.25 * spot + 0.75 * offer.ondemand_usd_per_hour) * 730
    assert monthly_cost_usd(PriceCatalog.load_default(), dep, 3, 0.25) == pytest.approx(
        expected, abs=0.01
    )


def test_seed_demo_plans_is_idempotent_and_exportable():
    ensure_fleet()
    v1, v2 = seed_demo_plans()
    assert (v1.status, v2.status) == (PlanStatus.APPLIED, PlanStatus.DRAFT)
    assert seed_demo_plans() == [v1, v2] and Plan.objects.count() == 2
    bundle = build_bundle(v2.as_decisions(), v1.as_decisions(), plan_version=v2.version)
    assert (
        "CHANGES.md" in bundle.files and len(bundle.manifest_paths()) >= len(v2.as_decisions()) * 2
    )
