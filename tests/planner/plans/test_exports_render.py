"""Renderers: golden files for a known plan plus hand-checked figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from planner.plans.exports.autoscalers import (
    LiveTargets,
    number_str,
    quantity,
    render_hpa,
    render_scaled_object,
)
from planner.plans.exports.bundle import dump_manifests
from planner.plans.exports.decision import DecisionError, QueueMetric
from planner.plans.exports.errors import ExportError
from planner.plans.exports.karpenter import SPREAD_LABEL, render_node_pools, render_spread_patch
from planner.plans.exports.validate import validate_yaml

GOLDEN = Path(__file__).parent / "golden"
LIVE = LiveTargets("https://headroom.example.com")


def rendered_files(plan) -> dict[str, str]:
    out = {}
    for d in plan:
        out[f"{d.service_slug}.scaledobject.yaml"] = dump_manifests(
            [render_scaled_object(d, plan_version=7, live=LIVE)]
        )
        out[f"{d.service_slug}.hpa.yaml"] = dump_manifests([render_hpa(d, plan_version=7)])
        out[f"{d.service_slug}.nodepools.yaml"] = dump_manifests(render_node_pools(d, 7))
    return out


def test_golden_manifests_match_and_validate(known_plan):
    files = rendered_files(known_plan)
    if os.environ.get("HEADROOM_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for name, text in files.items():
            (GOLDEN / name).write_text(text)
    assert sorted(p.name for p in GOLDEN.glob("*.yaml")) == sorted(files)
    for name, text in files.items():
        golden = (GOLDEN / name).read_text()
        assert text == golden, (
            f"{name} differs from golden; inspect and set HEADROOM_UPDATE_GOLDEN=1"
        )
        validate_yaml(golden, source=name)  # goldens themselves pass the vendored schemas


def test_scaled_object_carries_every_plan_setting(known_plan):
    chat = known_plan[0]
    so = render_scaled_object(chat, plan_version=7, live=LIVE)
    spec = so["spec"]
    # floor = min 2 (the warm pool is placeholder pods, not replicas)
    assert spec["minReplicaCount"] == 2
    assert spec["maxReplicaCount"] == 12
    # KEDA's cooldownPeriod only delays 1 -> 0: not written for a floor of 2
    assert spec["pollingInterval"] == 15 and "cooldownPeriod" not in spec
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 6}
    beh = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert beh["scaleUp"]["stabilizationWindowSeconds"] == 30
    assert beh["scaleUp"]["policies"] == [
        {"type": "Pods", "value": 2, "periodSeconds": 60},
        {"type": "Percent", "value": 50, "periodSeconds": 60},
    ]
    assert beh["scaleDown"] == {
        "stabilizationWindowSeconds": 600,
        "selectPolicy": "Min",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
    }
    prom, cron, live = spec["triggers"]
    assert prom["type"] == "prometheus"
    assert prom["metadata"]["threshold"] == "8"
    assert prom["metadata"]["activationThreshold"] == "1"
    assert prom["metadata"]["query"] == chat.metric.query
    assert cron["metadata"] == {
        "timezone": "America/New_York",
        "start": "0 8 * * 1-5",
        "end": "0 20 * * 1-5",
        "desiredReplicas": "8",
    }
    assert live["type"] == "metrics-api"
    assert live["metadata"]["url"] == "https://headroom.example.com/api/keda/targets/chat-llm"
    assert live["authenticationRef"] == {"name": "headroom-live-targets"}
    assert so["metadata"]["labels"]["headroom.io/plan-version"] == "7"


def test_queue_triggers_for_each_broker(known_plan):
    embed, images = known_plan[1], known_plan[2]
    (rabbit,) = render_scaled_object(embed)["spec"]["triggers"]
    assert rabbit["type"] == "rabbitmq"
    assert rabbit["metadata"] == {
        "protocol": "amqp",
        "queueName": "embed-requests",
        "mode": "QueueLength",
        "value": "50",
        "hostFromEnv": "AMQP_URL",
    }
    (sqs,) = render_scaled_object(images)["spec"]["triggers"]
    assert sqs["type"] == "aws-sqs-queue"
    assert sqs["metadata"]["queueLength"] == "5"
    assert sqs["authenticationRef"] == {"name": "keda-aws-irsa"}
    redis = images.__class__(
        **{**images.__dict__, "metric": QueueMetric("redis", "jobs", 10, address="redis:6379")}
    )
    (trig,) = render_scaled_object(redis)["spec"]["triggers"]
    assert trig["type"] == "redis"
    assert trig["metadata"] == {"address": "redis:6379", "listName": "jobs", "listLength": "10"}


def test_hpa_uses_external_metric_and_floor_of_one(known_plan):
    images = known_plan[2]  # min 0 replicas: HPA cannot go below 1 without a feature gate
    hpa = render_hpa(images)
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["maxReplicas"] == 30
    ext = hpa["spec"]["metrics"][0]["external"]
    assert ext["target"] == {"type": "AverageValue", "averageValue": "5"}
    assert ext["metric"]["selector"] == {"matchLabels": {"queue": "image-jobs"}}


def test_scale_to_zero_carries_keda_cooldown(known_plan):
    images = known_plan[2]  # floor 0
    spec = render_scaled_object(images)["spec"]
    assert spec["minReplicaCount"] == 0 and spec["cooldownPeriod"] == images.cooldown_seconds


@pytest.mark.parametrize(
    ("share", "max_replicas", "gpus", "spot_values", "n"),
    [
        (0.5, 12, 1, ["1"], 2),
        (0.3, 10, 2, ["1", "2", "3"], 10),
        (0.25, 7, 1, ["1"], 4),
        (0.75, 8, 1, ["1", "2", "3"], 4),
    ],
)
def test_spot_share_holds_at_every_load(known_plan, share, max_replicas, gpus, spot_values, n):
    d = known_plan[0].__class__(
        **{
            **known_plan[0].__dict__,
            "spot_share": share,
            "max_replicas": max_replicas,
            "gpus_per_replica": gpus,
            "schedules": (),
            "fallback_replicas": None,
        }
    )
    spot, on_demand = render_node_pools(d)
    # no absolute spot cap: the split comes from the capacity-spread values
    assert spot["spec"]["limits"] == {"nvidia.com/gpu": max_replicas * gpus}
    assert on_demand["spec"]["limits"] == {"nvidia.com/gpu": max_replicas * gpus}
    assert spot["spec"]["weight"] > on_demand["spec"]["weight"]

    def spread(pool):
        reqs = pool["spec"]["template"]["spec"]["requirements"]
        return next(r["values"] for r in reqs if r["key"] == SPREAD_LABEL)

    assert spread(spot) == spot_values
    assert spread(on_demand) == [str(i) for i in range(len(spot_values) + 1, n + 1)]
    (tsc,) = render_spread_patch(d)["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert (tsc["topologyKey"], tsc["maxSkew"], tsc["whenUnsatisfiable"]) == (
        SPREAD_LABEL,
        1,
        "DoNotSchedule",
    )
    # the scheduler keeps the n domains within one pod of each other (maxSkew 1), so at
    # every replica count R the spot domains hold k/n of them within k pods
    k = len(spot_values)
    for replicas in range(1, 3 * max_replicas):
        counts = [0] * n
        for _ in range(replicas):
            counts[counts.index(min(counts))] += 1
        assert abs(sum(counts[:k]) - share * replicas) <= k


def test_unrepresentable_spot_share_is_refused(known_plan):
    d = known_plan[0].__class__(
        **{**known_plan[0].__dict__, "spot_share": 0.01, "schedules": (), "fallback_replicas": None}
    )
    with pytest.raises(ExportError, match="not a fraction k/n"):
        render_node_pools(d)


def test_node_pools_by_capacity_type_and_mig(known_plan):
    chat, embed, images = known_plan
    assert [p["metadata"]["name"] for p in render_node_pools(chat)] == [
        "chat-llm-spot",
        "chat-llm-on-demand",
    ]
    (pool,) = render_node_pools(embed)
    assert pool["metadata"]["name"] == "embeddings-on-demand"
    tmpl = pool["spec"]["template"]
    assert tmpl["metadata"]["labels"]["nvidia.com/mig.config"] == "all-1g.5gb"
    assert tmpl["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.gcp",
        "kind": "GCENodeClass",
        "name": "default",
    }
    assert pool["spec"]["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
    (spot_only,) = render_node_pools(images)
    reqs = {r["key"]: r["values"] for r in spot_only["spec"]["template"]["spec"]["requirements"]}
    assert reqs["karpenter.sh/capacity-type"] == ["spot"]
    assert reqs["node.kubernetes.io/instance-type"] == ["g6e.2xlarge", "g5.2xlarge"]


def test_number_formats():
    assert number_str(8) == "8" and number_str(0.75) == "0.75" and number_str(2.5e-7) == "0"
    assert quantity(12) == "12" and quantity(0.75) == "750m" and quantity(1.5) == "1500m"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_replicas": 1}, "max_replicas"),  # below min 2
        ({"spot_share": 0.4, "capacity_types": ("on-demand",)}, "spot_share"),
        ({"namespace": "Inference"}, "namespace"),
        ({"polling_interval_seconds": 0}, "polling_interval_seconds"),
        ({"fallback_replicas": 99}, "fallback_replicas"),
        ({"instance_types": ()}, "instance_types"),
    ],
)
def test_inconsistent_decisions_are_rejected_naming_the_field(known_plan, change, field):
    d = known_plan[0].__class__(**{**known_plan[0].__dict__, **change})
    with pytest.raises(DecisionError, match=rf"chat-llm.*{field}"):
        render_scaled_object(d)


def test_rendered_yaml_round_trips(known_plan):
    text = dump_manifests(render_node_pools(known_plan[0]))
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == ["NodePool", "NodePool"]
