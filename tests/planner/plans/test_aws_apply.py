"""AWS Application Auto Scaling apply/rollback/drift, through boto3 against moto's server mode."""

from __future__ import annotations

import pytest

from planner.plans.aws_apply import (
    AwsApplyError,
    apply_plan,
    aws_cron,
    desired_state,
    detect_drift,
    restore,
    rollback_to_plan,
)
from planner.plans.aws_client import ApplicationAutoScalingClient
from planner.plans.exports.decision import ScheduleWindow

REGION = "us-east-1"


@pytest.fixture
def aws(aws_env):
    """Our client (endpoint from AWS_ENDPOINT_URL, like production's default chain) and a raw
    boto3 client to check independently what AWS (moto) now reports."""
    return ApplicationAutoScalingClient(REGION), aws_env


def described(raw, namespace, rid):
    (target,) = raw.describe_scalable_targets(ServiceNamespace=namespace, ResourceIds=[rid])[
        "ScalableTargets"
    ]
    policies = raw.describe_scaling_policies(ServiceNamespace=namespace, ResourceId=rid)[
        "ScalingPolicies"
    ]
    actions = raw.describe_scheduled_actions(ServiceNamespace=namespace, ResourceId=rid)[
        "ScheduledActions"
    ]
    return target, policies, actions


def test_apply_registers_targets_policies_and_schedules(aws, known_plan):
    client, raw = aws
    result = apply_plan(client, known_plan)
    target, policies, actions = described(raw, "sagemaker", "endpoint/chat-llm/variant/AllTraffic")
    # chat-llm: floor = min 2 + warm 1 = 3, max 12
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 12)
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    (policy,) = policies
    cfg = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyName"] == "headroom-chat-llm-target-tracking"
    assert cfg["TargetValue"] == 70.0
    assert cfg["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerVariantInvocationsPerInstance"
    )
    assert (cfg["ScaleInCooldown"], cfg["ScaleOutCooldown"]) == (600, 60)
    by_name = {a["ScheduledActionName"]: a for a in actions}
    start = by_name["headroom-chat-llm-weekday-peak-start"]
    end = by_name["headroom-chat-llm-weekday-peak-end"]
    assert start["Schedule"] == "cron(0 8 ? * MON-FRI *)"
    assert start["Timezone"] == "America/New_York"
    assert start["ScalableTargetAction"] == {"MinCapacity": 8, "MaxCapacity": 12}
    assert end["Schedule"] == "cron(0 20 ? * MON-FRI *)"
    assert end["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 12}
    ecs_target, ecs_policies, _ = described(raw, "ecs", "service/media/sdxl-worker")
    assert (ecs_target["MinCapacity"], ecs_target["MaxCapacity"]) == (0, 30)
    assert ecs_policies[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 60.0
    # the diff names what was created, one entry per new target
    assert {c.resource_id for c in result.changes} == {
        "endpoint/chat-llm/variant/AllTraffic",
        "service/media/sdxl-worker",
    }
    assert all(before is None for _, _, before in result.before)


def test_second_apply_changes_nothing_and_no_drift(aws, known_plan):
    client, _ = aws
    apply_plan(client, known_plan)
    assert apply_plan(client, known_plan).changes == ()
    assert detect_drift(client, known_plan) == []


def test_dry_run_reports_without_writing(aws, known_plan):
    client, raw = aws
    result = apply_plan(client, known_plan, dry_run=True)
    assert result.changes
    assert raw.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def changed_plan(plan):
    chat = plan[0]
    new_target = chat.aws_target.__class__(**{**chat.aws_target.__dict__, "target_value": 90.0})
    chat2 = chat.__class__(
        **{
            **chat.__dict__,
            "max_replicas": 16,
            "aws_target": new_target,
            "schedules": (ScheduleWindow("night", "UTC", "0 1 * * *", "0 5 * * *", 4),),
        }
    )
    return [chat2, *plan[1:2]]  # image-gen (ECS) dropped from the new plan


def test_diff_names_each_changed_setting(aws, known_plan):
    client, _ = aws
    apply_plan(client, known_plan)
    changes = {
        c.field: (c.actual, c.planned) for c in apply_plan(client, changed_plan(known_plan)).changes
    }
    assert changes["max_capacity"] == (12, 16)
    assert changes["policies[headroom-chat-llm-target-tracking].target_value"] == (70.0, 90.0)
    assert changes["scheduled_actions[headroom-chat-llm-weekday-peak-start]"] == ("present", None)
    assert changes["scheduled_actions[headroom-chat-llm-night-start]"] == (None, "present")


def test_rollback_to_previous_plan_restores_state(aws, known_plan):
    client, raw = aws
    apply_plan(client, known_plan)
    snapshot = described(raw, "sagemaker", "endpoint/chat-llm/variant/AllTraffic")
    new = changed_plan(known_plan)
    apply_plan(client, new)
    assert (
        described(raw, "sagemaker", "endpoint/chat-llm/variant/AllTraffic")[0]["MaxCapacity"] == 16
    )
    rollback_to_plan(client, previous=known_plan, current=new)
    again = described(raw, "sagemaker", "endpoint/chat-llm/variant/AllTraffic")
    assert again[0]["MaxCapacity"] == snapshot[0]["MaxCapacity"] == 12
    assert [p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] for p in again[1]] == [
        70.0
    ]
    assert sorted(a["ScheduledActionName"] for a in again[2]) == sorted(
        a["ScheduledActionName"] for a in snapshot[2]
    )
    assert detect_drift(client, known_plan) == []


def test_rollback_removes_targets_only_the_new_plan_added(aws, known_plan):
    client, raw = aws
    old = known_plan[:1]  # only chat-llm was under AAS
    apply_plan(client, old)
    apply_plan(client, known_plan)
    assert raw.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    rollback_to_plan(client, previous=old, current=known_plan)
    assert raw.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []


def test_restore_puts_back_exact_previous_state(aws, known_plan):
    client, raw = aws
    apply_plan(client, known_plan)
    result = apply_plan(client, changed_plan(known_plan))
    restore(client, result)
    assert detect_drift(client, known_plan[:1]) == []
    first = apply_plan(client, known_plan)  # already in sync
    no_changes = restore(client, first)  # before-state equals current: nothing to do
    assert no_changes == []


def test_drift_shows_out_of_band_changes_and_leaves_foreign_policies(aws, known_plan):
    client, raw = aws
    apply_plan(client, known_plan)
    rid = "endpoint/chat-llm/variant/AllTraffic"
    raw.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=12,
    )
    raw.put_scaling_policy(
        PolicyName="ops-manual",
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 10.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    drift = {d.field: (d.actual, d.planned) for d in detect_drift(client, known_plan)}
    assert drift["min_capacity"] == (1, 2)
    assert drift["policies[ops-manual]"] == ("present (not managed by Headroom)", None)
    apply_plan(client, known_plan)
    names = [p["PolicyName"] for p in described(raw, "sagemaker", rid)[1]]
    assert sorted(names) == ["headroom-chat-llm-target-tracking", "ops-manual"]


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 8 * * 1-5", "cron(0 8 ? * MON-FRI *)"),
        ("15 22 * * 0,6", "cron(15 22 ? * SUN,SAT *)"),
        ("0 0 * * 7", "cron(0 0 ? * SUN *)"),
        ("30 6 1 * *", "cron(30 6 1 * ? *)"),
        ("*/10 * * * *", "cron(*/10 * * * ? *)"),
    ],
)
def test_aws_cron_conversion(cron, expected):
    assert aws_cron(cron) == expected


def test_bad_inputs_are_explained(known_plan):
    with pytest.raises(AwsApplyError, match="day-of-month and weekday"):
        aws_cron("0 8 1 * 1")
    with pytest.raises(AwsApplyError, match="weekday 'MON'"):
        aws_cron("0 8 * * MON")
    with pytest.raises(AwsApplyError, match="embeddings.*no AWS scaling target"):
        desired_state(known_plan[1])
