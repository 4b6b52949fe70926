"""Exports do what was simulated: export -> YAML / AWS -> read back -> replay.

For each of the four exporters (KEDA ScaledObject, HPA autoscaling/v2, Karpenter
NodePools, AWS Application Auto Scaling through moto's server) a simulated policy and
mix is exported, the objects are serialised and parsed back (or applied to AWS and
described back), read into a policy / mix, and replayed by the simulator: the replica
series and the cost must be the scenario's within 1 %. Refusals are checked one by one,
and the exported metric is checked against the HPA's own formula by hand.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costmodels.capacity import CapacityModel
from costmodels.catalog import PriceCatalog
from costmodels.simulator import AutoscalingPolicy, PurchaseMix, simulate
from planner.plans.aws_apply import apply_plan, desired_state, read_state
from planner.plans.aws_client import ApplicationAutoScalingClient
from planner.plans.exports.autoscalers import render_hpa, render_scaled_object
from planner.plans.exports.bundle import dump_manifests
from planner.plans.exports.errors import ExportRefused, ManifestReadError
from planner.plans.exports.karpenter import render_node_pools
from planner.plans.exports.readers import (
    parse_quantity,
    read_aws_state,
    read_hpa,
    read_node_pools,
    read_scaled_object,
)
from planner.plans.exports.simulated import ExportTarget, decision_from_simulation
from planner.plans.exports.warm_pool import render_priority_class, render_warm_pool

SLO_MS = 2000.0


@pytest.fixture(scope="module")
def offer():
    return PriceCatalog.load_default().offer("aws", "g5.xlarge", "us-east-1")


@pytest.fixture(scope="module")
def cap(offer):
    return CapacityModel("llm_chat", gpu_model=offer.gpu_model, batch_size=8).fit()


@pytest.fixture(scope="module")
def demand(cap):
    """Two days of requests/min: a diurnal cycle from ~0.5 to ~7 replicas' worth, bursts,
    and a quiet hour with no requests (exercises scaling to zero)."""
    rng = np.random.default_rng(4)
    t = np.arange(2 * 1440)
    per_replica = 60.0 * cap.throughput_rps_
    d = per_replica * (3.7 + 3.2 * np.sin(2 * np.pi * (t / 1440.0 - 0.3)))
    for s in rng.integers(0, t.size - 60, 6):
        d[s : s + rng.integers(5, 30)] += rng.uniform(1.0, 3.0) * per_replica
    d[200:260] = 0.0
    return np.maximum(d + rng.normal(0, 0.05 * per_replica, t.size), 0.0)


TARGET = ExportTarget(
    service_slug="chat-llm",
    namespace="inference",
    deployment_name="chat-llm-vllm",
    cluster="prod-use1",
    provider="aws",
    instance_types=("g5.xlarge",),
    serving_image="vllm/vllm-openai:v0.6.3",
    aws_resource_id="endpoint/chat-llm/variant/AllTraffic",
)


def k8s_policy(cap, metric: str, **over) -> AutoscalingPolicy:
    target = {
        "requests_per_replica": 0.7 * cap.throughput_rps_,
        "gpu_utilisation": 70.0,
        "concurrency": 0.7 * cap.batch_size,
        "queue_length": float(cap.batch_size),
    }[metric]
    base = dict(
        metric=metric,
        target=round(target, 3),
        min_replicas=1,
        max_replicas=10,
        polling_interval_s=30,
        scale_up_stabilisation_s=0 if metric == "queue_length" else 60,
        scale_down_stabilisation_s=300,
        cooldown_s=0,
        max_scale_up_replicas_per_min=3,
    )
    return AutoscalingPolicy(**{**base, **over})


def replay(demand, offer, cap, policy, mix):
    return simulate(demand, [policy], mix, offer, cap, slo_p95_ms=SLO_MS, random_state=3)[0]


def assert_same_run(a, b):
    """The replayed run is the scenario's: replica series and cost within 1 %."""
    gap = np.abs(a.replicas.astype(float) - b.replicas).sum() / max(a.replicas.sum(), 1)
    assert gap <= 0.01, f"replica series differ by {gap:.2%}"
    assert b.total_cost_usd == pytest.approx(a.total_cost_usd, rel=0.01)
    assert np.array_equal(a.replicas, b.replicas)  # in fact identical
    assert b.cost_usd_by_category == pytest.approx(a.cost_usd_by_category, rel=1e-9)


def through_yaml(objs):
    return [d for d in yaml.safe_load_all(dump_manifests(objs)) if d]


def k8s_objects(decision, render):
    objs = [render(decision, 1)]
    if decision.warm_pool_replicas:
        objs += [render_priority_class(), render_warm_pool(decision, TARGET.serving_image, 1)]
    return through_yaml(objs)


@pytest.mark.parametrize(
    "metric", ["requests_per_replica", "gpu_utilisation", "concurrency", "queue_length"]
)
@pytest.mark.parametrize(("lo", "warm"), [(1, 0), (0, 0), (1, 2)])
def test_keda_roundtrip(demand, offer, cap, metric, lo, warm):
    policy = k8s_policy(cap, metric, min_replicas=lo, warm_pool=warm, warm_pool_cost_fraction=1.0)
    mix = PurchaseMix(spot_share=0.5)
    decision = decision_from_simulation(policy, mix, TARGET, exporter="keda")
    so = render_scaled_object(decision, 1)
    assert ("cooldownPeriod" in so["spec"]) == (lo == 0)  # KEDA's cooldown: scale to zero only
    back = read_scaled_object(k8s_objects(decision, render_scaled_object))
    assert (back.metric, back.target, back.warm_pool) == (metric, policy.target, warm)
    first, again = replay(demand, offer, cap, policy, mix), replay(demand, offer, cap, back, mix)
    assert_same_run(first, again)
    if warm:  # costed as exported: placeholder nodes at the full on-demand price
        hours = demand.size / 60
        assert first.cost_usd_by_category["warm_pool"] == pytest.approx(
            warm * offer.ondemand_usd_per_hour * hours
        )


@pytest.mark.parametrize(
    "metric", ["requests_per_replica", "gpu_utilisation", "concurrency", "queue_length"]
)
def test_hpa_roundtrip(demand, offer, cap, metric):
    policy = k8s_policy(cap, metric, warm_pool=1, warm_pool_cost_fraction=1.0)
    decision = decision_from_simulation(policy, PurchaseMix(), TARGET, exporter="hpa")
    back = read_hpa(k8s_objects(decision, render_hpa))
    assert back.polling_interval_s == 15  # the HPA's sync period: same simulated minute
    mix = PurchaseMix()
    assert_same_run(replay(demand, offer, cap, policy, mix), replay(demand, offer, cap, back, mix))


@pytest.mark.parametrize(
    "mix",
    [
        PurchaseMix(spot_share=0.25),
        PurchaseMix(spot_share=0.5),
        PurchaseMix(spot_share=1.0),
        PurchaseMix(committed_replicas=2),
        PurchaseMix(committed_replicas=1, commitment_term="3y"),
    ],
)
def test_karpenter_roundtrip(demand, offer, cap, mix):
    quiet = dataclasses.replace(offer, spot_interruption_bucket=0)
    policy = k8s_policy(cap, "requests_per_replica")
    commit = quiet.commit_usd_per_hour(mix.commitment_term) or 0.0
    decision = decision_from_simulation(
        policy, mix, TARGET, exporter="karpenter", commit_usd_per_hour=commit
    )
    pools = through_yaml(render_node_pools(decision, 1))
    back = read_node_pools(pools, decision.commitments)
    assert back == mix
    assert_same_run(
        replay(demand, quiet, cap, policy, mix), replay(demand, quiet, cap, policy, back)
    )


def test_aws_roundtrip(demand, offer, cap, aws_env):
    policy = AutoscalingPolicy(
        metric="requests_per_replica",
        target=round(0.7 * cap.throughput_rps_, 3),
        min_replicas=1,
        max_replicas=10,
        polling_interval_s=60,
        scale_up_stabilisation_s=120,
        scale_down_stabilisation_s=840,
        cooldown_s=600,
        max_scale_up_replicas_per_min=10,
        tolerance=0.1,
        scale_out_tolerance=0.0,
    )
    decision = decision_from_simulation(policy, PurchaseMix(), TARGET, exporter="aws")
    client = ApplicationAutoScalingClient("us-east-1")
    apply_plan(client, [decision])
    planned = desired_state(decision)
    state = read_state(
        client, "chat-llm", planned.namespace, planned.resource_id, planned.dimension
    )  # described back by AWS (moto)
    assert state is not None and state.policies[0].scale_in_cooldown_seconds == 600
    back = read_aws_state(state)
    mix = PurchaseMix()
    assert_same_run(replay(demand, offer, cap, policy, mix), replay(demand, offer, cap, back, mix))


@pytest.mark.parametrize(
    ("exporter", "change", "says"),
    [
        ("keda", {"cooldown_s": 300}, "no cooldown between scaling"),
        ("keda", {"tolerance": 0.05}, "cluster-wide"),
        ("keda", {"polling_interval_s": 120}, "sync period"),
        ("keda", {"warm_pool": 1, "warm_pool_cost_fraction": 0.1}, "billed in full"),
        ("keda", {"scale_down_stabilisation_s": 4000}, "at most 3600"),
        ("hpa", {"min_replicas": 0}, "cannot scale to zero"),
        ("hpa", {"target": 0.0125}, "milli-units"),
        ("aws", {}, "3 datapoints"),
        ("aws", {"metric": "gpu_utilisation", "target": 70.0}, "InvocationsPerInstance only"),
    ],
)
def test_inexpressible_behaviour_is_refused_with_reason(cap, exporter, change, says):
    policy = dataclasses.replace(k8s_policy(cap, "requests_per_replica"), **change)
    with pytest.raises(ExportRefused, match=says) as info:
        decision_from_simulation(policy, PurchaseMix(), TARGET, exporter=exporter)
    assert info.value.service == "chat-llm" and info.value.exporter == exporter


def test_queue_metric_with_up_window_and_warm_pool_on_aws_are_refused(cap):
    queue = k8s_policy(cap, "queue_length", scale_up_stabilisation_s=60)
    with pytest.raises(ExportRefused, match="outside the window"):
        decision_from_simulation(queue, PurchaseMix(), TARGET, exporter="keda")
    aws = AutoscalingPolicy(
        metric="requests_per_replica",
        target=1.0,
        warm_pool=1,
        scale_up_stabilisation_s=120,
        scale_down_stabilisation_s=840,
        max_scale_up_replicas_per_min=10,
        scale_out_tolerance=0.0,
    )
    with pytest.raises(ExportRefused, match="SageMaker endpoint variants have none"):
        decision_from_simulation(aws, PurchaseMix(), TARGET, exporter="aws")


@pytest.mark.parametrize(
    "mix", [PurchaseMix(committed_replicas=1, spot_share=0.5), PurchaseMix(spot_share=0.33)]
)
def test_karpenter_refuses_what_a_spread_cannot_hold(cap, mix):
    with pytest.raises(ExportRefused):
        decision_from_simulation(
            k8s_policy(cap, "requests_per_replica"), mix, TARGET, exporter="karpenter"
        )


def test_reader_refuses_an_average_read_as_average_value(cap):
    """The defect this issue found: avg(GPU util) with AverageValue caps the HPA at
    ceil(avg / target) replicas; the reader says so instead of reading a policy."""
    policy = k8s_policy(cap, "gpu_utilisation")
    decision = decision_from_simulation(policy, PurchaseMix(), TARGET, exporter="keda")
    so = render_scaled_object(decision, 1)
    meta = so["spec"]["triggers"][0]["metadata"]
    meta["query"] = meta["query"].replace("sum(", "avg(").split(" / ")[0]
    with pytest.raises(ManifestReadError, match="averages over replicas"):
        read_scaled_object([so])


@pytest.mark.parametrize("metric", ["requests_per_replica", "gpu_utilisation"])
def test_hpa_formula_on_the_exported_metric_gives_the_simulated_replicas(cap, offer, metric):
    """By hand: at a steady load of L requests/s the exported query's value is the total
    (L for the request rate; 100 x L / throughput for GPU busy %), and the HPA wants
    ceil(value / averageValue) -- the simulator's steady replicas at that load."""
    policy = k8s_policy(cap, metric)
    hpa = render_hpa(decision_from_simulation(policy, PurchaseMix(), TARGET, exporter="hpa"), 1)
    average_value = parse_quantity(
        hpa["spec"]["metrics"][0]["external"]["target"]["averageValue"], "averageValue"
    )
    for replicas_of_load in (0.6, 2.3, 4.0, 6.8):
        rps = replicas_of_load * cap.throughput_rps_
        value = rps if metric == "requests_per_replica" else 100.0 * rps / cap.throughput_rps_
        hpa_wants = max(1, math.ceil(value / average_value - 1e-9))
        run = replay(np.full(30, 60.0 * rps), offer, cap, policy, PurchaseMix())
        assert run.replicas[-1] == hpa_wants


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    metric=st.sampled_from(["requests_per_replica", "gpu_utilisation", "concurrency"]),
    lo=st.integers(0, 3),
    span=st.integers(1, 8),
    poll=st.integers(1, 60),
    up=st.integers(0, 600),
    down=st.integers(0, 1800),
    max_up=st.integers(1, 6),
    warm=st.integers(0, 2),
    share=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
)
def test_any_keda_expressible_policy_roundtrips(
    demand, offer, cap, metric, lo, span, poll, up, down, max_up, warm, share
):
    policy = k8s_policy(
        cap,
        metric,
        min_replicas=lo,
        max_replicas=lo + span,
        polling_interval_s=poll,
        scale_up_stabilisation_s=up,
        scale_down_stabilisation_s=down,
        max_scale_up_replicas_per_min=max_up,
        warm_pool=warm,
        warm_pool_cost_fraction=1.0,
    )
    mix = PurchaseMix(spot_share=share)
    keda = decision_from_simulation(policy, mix, TARGET, exporter="keda")
    back = read_scaled_object(k8s_objects(keda, render_scaled_object))
    pools = render_node_pools(decision_from_simulation(policy, mix, TARGET, exporter="karpenter"))
    back_mix = read_node_pools(through_yaml(pools))
    short = demand[:480]
    assert_same_run(
        replay(short, offer, cap, policy, mix), replay(short, offer, cap, back, back_mix)
    )


@pytest.mark.django_db
def test_stored_plan_roundtrip(demand, offer, cap):
    """A demo deployment's simulated policy, promoted into a stored plan, comes back out of
    the database and the KEDA bundle as the same policy (the path the product exports)."""
    from planner.core.models import Deployment
    from planner.plans.from_simulation import decision_for_simulation
    from planner.plans.services import bundle_for, create_plan_from_decisions

    dep = Deployment.objects.select_related("service").order_by("name").first()
    policy = k8s_policy(cap, "gpu_utilisation", warm_pool=1, warm_pool_cost_fraction=1.0)
    mix = PurchaseMix(spot_share=0.5)
    decision = decision_for_simulation(
        dep, policy, mix, exporter="keda", serving_image="registry.example/serve:1"
    )
    plan = create_plan_from_decisions([decision], name="from simulation")
    (stored,) = plan.as_decisions()
    assert stored.metric.query == decision.metric.query and "sum(DCGM" in stored.metric.query
    files = bundle_for(plan).files
    docs = [
        d
        for path, text in files.items()
        if path.endswith(".yaml")
        for d in yaml.safe_load_all(text)
        if d
    ]
    back = read_scaled_object(docs)
    assert back.warm_pool == 1
    assert_same_run(replay(demand, offer, cap, policy, mix), replay(demand, offer, cap, back, mix))


@pytest.mark.parametrize(("metric", "warm"), [("requests_per_replica", 2), ("gpu_utilisation", 0)])
def test_ec2_warm_pool_roundtrip(demand, offer, cap, aws_env, metric, warm):
    """EC2 Auto Scaling (the AWS target with a warm pool) through moto: stopped instances
    costed at their EBS volume's share of the price, as exported."""
    import boto3

    from planner.plans.aws_client import Ec2AutoScalingClient
    from planner.plans.exports.ec2_asg import read_ec2_asg, render_ec2_asg, stopped_warm_fraction

    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_launch_template(
        LaunchTemplateName="gpu",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "g5.xlarge"},
    )
    asg = boto3.client("autoscaling", region_name="us-east-1")
    asg.create_auto_scaling_group(
        AutoScalingGroupName="chat-llm",
        MinSize=1,
        MaxSize=2,
        LaunchTemplate={"LaunchTemplateName": "gpu"},
        AvailabilityZones=["us-east-1a"],
    )
    frac = stopped_warm_fraction(offer.ondemand_usd_per_hour, 200)
    assert frac == pytest.approx(200 * 0.08 / 730 / offer.ondemand_usd_per_hour)  # ~2.2 %
    target = dict(metric=metric, target=70.0 if metric == "gpu_utilisation" else 0.5)
    policy = AutoscalingPolicy(
        **target,
        min_replicas=1,
        max_replicas=10,
        polling_interval_s=60,
        scale_up_stabilisation_s=120,
        scale_down_stabilisation_s=840,
        cooldown_s=0,
        max_scale_up_replicas_per_min=10,
        warm_pool=warm,
        warm_pool_cost_fraction=frac,
        tolerance=0.1,
        scale_out_tolerance=0.0,
    )
    where = dataclasses.replace(
        TARGET, aws_resource_id="asg/chat-llm", alb_resource_label="app/lb/1/targetgroup/tg/2"
    )
    requests = render_ec2_asg(policy, where, offer.ondemand_usd_per_hour)
    client = Ec2AutoScalingClient("us-east-1")
    client.apply(requests)
    back = read_ec2_asg(*client.describe("chat-llm"), offer.ondemand_usd_per_hour)
    assert (back.metric, back.warm_pool) == (metric, warm)
    first, again = (
        replay(demand, offer, cap, policy, PurchaseMix()),
        replay(demand, offer, cap, back, PurchaseMix()),
    )
    assert_same_run(first, again)
    assert first.cost_usd_by_category["warm_pool"] == pytest.approx(
        warm * frac * offer.ondemand_usd_per_hour * demand.size / 60
    )
    bad = dataclasses.replace(policy, warm_pool=1, warm_pool_cost_fraction=0.1)
    with pytest.raises(ExportRefused, match="bill their 200 GiB volume"):
        render_ec2_asg(bad, where, offer.ondemand_usd_per_hour)
