"""Plan models and services against the real database (and moto for AWS)."""

from __future__ import annotations

import pytest
import yaml

from planner.plans import services
from planner.plans.models import Plan, PlanDecision, PlanEvent, PlanStatus
from planner.plans.services import PlanError, create_plan_from_decisions

pytestmark = pytest.mark.django_db


def test_round_trip_through_the_database_is_lossless(fleet_services, known_plan):
    plan = create_plan_from_decisions(known_plan, name="Q4 right-size", source_scenario_id=42)
    assert plan.status == PlanStatus.DRAFT
    assert plan.source_scenario_id == 42
    stored = {d.service_slug: d for d in Plan.objects.get(pk=plan.pk).as_decisions()}
    assert stored == {d.service_slug: d for d in known_plan}


def test_version_cost_and_slo_roll_up(fleet_services, known_plan):
    a = create_plan_from_decisions(known_plan, name="a")
    b = create_plan_from_decisions(known_plan[:1], name="b")
    assert (a.version, b.version) == (1, 2)
    assert a.expected_monthly_cost_usd == pytest.approx(61250.0 + 8400.0 + 12975.5)
    assert a.slo_attainment == pytest.approx(0.97)  # worst service: image-gen
    assert a.events.get().kind == PlanEvent.Kind.CREATED


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda p: [p[0].__class__(**{**p[0].__dict__, "service_slug": "ghost"})],
            "unknown service slug",
        ),
        (lambda p: [p[0], p[0]], "appears twice"),
        (lambda p: [p[0].__class__(**{**p[0].__dict__, "spot_share": 1.5})], "spot_share"),
        (lambda p: [], "at least one decision"),
    ],
)
def test_bad_input_leaves_nothing_behind(fleet_services, known_plan, mutate, message):
    with pytest.raises(PlanError, match=message):
        create_plan_from_decisions(mutate(known_plan), name="bad")
    assert Plan.objects.count() == 0 and PlanDecision.objects.count() == 0


def test_approve_then_apply_supersedes_previous(fleet_services, known_plan, admin_user, analyst):
    first = create_plan_from_decisions(known_plan, name="first")
    services.approve_plan(first, analyst)
    assert first.status == PlanStatus.APPROVED and first.approved_by == analyst
    with pytest.raises(PlanError, match="only a draft"):
        services.approve_plan(first, analyst)
    services.mark_applied(first, admin_user)
    second = create_plan_from_decisions(known_plan[:2], name="second")
    with pytest.raises(PlanError, match="approve it first"):
        services.mark_applied(second, admin_user)
    services.approve_plan(second, analyst)
    services.mark_applied(second, admin_user)
    first.refresh_from_db()
    assert first.status == PlanStatus.SUPERSEDED
    assert Plan.current_applied() == second
    assert services.previous_applied(second) == first


def test_diff_against_applied_plan(fleet_services, known_plan, admin_user, analyst):
    base = create_plan_from_decisions(known_plan, name="base")
    services.approve_plan(base, analyst)
    services.mark_applied(base, admin_user)
    chat = known_plan[0]
    cheaper = chat.__class__(
        **{**chat.__dict__, "spot_share": 0.8, "expected_monthly_cost_usd": 50000.0}
    )
    new = create_plan_from_decisions([cheaper, *known_plan[1:]], name="more spot")
    diff = services.plan_diff(new)
    assert diff.cost_delta_usd == pytest.approx(-11250.0)
    (changed,) = diff.changed
    assert changed.service_slug == "chat-llm"
    assert [(c.field, c.old, c.new) for c in changed.changes] == [("spot_share", 0.5, 0.8)]


def approved(known_plan, analyst, name="p", decisions=None):
    plan = create_plan_from_decisions(decisions or known_plan, name=name)
    return services.approve_plan(plan, analyst)


def test_aws_apply_and_rollback_through_services(
    fleet_services, known_plan, aws_env, admin_user, analyst
):
    rid = "endpoint/chat-llm/variant/AllTraffic"
    v1 = approved(known_plan, analyst, "v1")
    services.apply_to_aws(v1, admin_user)
    chat = known_plan[0]
    bigger = chat.__class__(**{**chat.__dict__, "max_replicas": 20})
    v2 = approved(known_plan, analyst, "v2", [bigger, *known_plan[1:]])
    changes = services.apply_to_aws(v2, admin_user)
    # the ceiling is also carried by both scheduled actions of the weekday window
    assert [(c.field, c.actual, c.planned) for c in changes] == [
        ("max_capacity", 12, 20),
        ("scheduled_actions[headroom-chat-llm-weekday-peak-end].max_capacity", 12, 20),
        ("scheduled_actions[headroom-chat-llm-weekday-peak-start].max_capacity", 12, 20),
    ]
    event = v2.events.filter(kind=PlanEvent.Kind.AWS_APPLY).get()
    assert event.detail["changes"][0]["planned"] == 20
    (target,) = aws_env.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert target["MaxCapacity"] == 20
    v2.refresh_from_db()
    previous, rb = services.rollback_aws(v2, admin_user)
    assert previous == v1
    assert [(c.field, c.actual, c.planned) for c in rb][0] == ("max_capacity", 20, 12)
    assert len(rb) == 3
    (target,) = aws_env.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert target["MaxCapacity"] == 12
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == (PlanStatus.APPLIED, PlanStatus.SUPERSEDED)
    assert services.check_aws_drift(v1) == []


def test_apply_requires_approval_and_aws_targets(fleet_services, known_plan, admin_user, analyst):
    draft = create_plan_from_decisions(known_plan, name="draft")
    with pytest.raises(PlanError, match="approve it"):
        services.apply_to_aws(draft, admin_user)
    no_aws = approved(known_plan, analyst, "gcp only", known_plan[1:2])
    with pytest.raises(PlanError, match="no SageMaker or ECS targets"):
        services.apply_to_aws(no_aws, admin_user)


def test_manifest_drift_from_cluster_report(fleet_services, known_plan):
    plan = create_plan_from_decisions(known_plan, name="p")
    docs = []
    for path, text in services.bundle_for(plan).files.items():
        if path.endswith(".yaml"):
            docs += list(yaml.safe_load_all(text))
    for d in docs:  # what the API server adds must not count as drift
        d["status"] = {"conditions": []}
        d["metadata"]["uid"] = "abc"
    report = {"apiVersion": "v1", "kind": "List", "items": docs}
    assert services.manifest_drift(plan, yaml.safe_dump(report)) == []
    so = next(
        d for d in docs if d["kind"] == "ScaledObject" and d["metadata"]["name"] == "chat-llm-vllm"
    )
    so["spec"]["maxReplicaCount"] = 40
    docs.remove(next(d for d in docs if d["metadata"]["name"] == "image-gen-spot"))
    drift = services.manifest_drift(plan, yaml.safe_dump_all(docs))
    assert {
        "object": "ScaledObject inference/chat-llm-vllm",
        "field": "spec.maxReplicaCount",
        "actual": 40,
        "planned": 12,
    } in drift
    assert {
        "object": "NodePool image-gen-spot",
        "field": "(object)",
        "actual": None,
        "planned": "present",
    } in drift
    assert len(drift) == 2
    assert (
        plan.events.filter(kind=PlanEvent.Kind.DRIFT_CHECK)
        .first()
        .summary.startswith("cluster manifests: 2")
    )
    with pytest.raises(PlanError, match="not YAML"):
        services.manifest_drift(plan, "a: [")
