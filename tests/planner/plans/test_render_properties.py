"""Property tests: any decision that passes validate() renders manifests the schemas accept."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.plans.exports.autoscalers import LiveTargets, render_hpa, render_scaled_object
from planner.plans.exports.decision import (
    PlanDecision,
    PrometheusMetric,
    QueueMetric,
    ScalingPolicy,
    ScalingRules,
    ScheduleWindow,
)
from planner.plans.exports.diff import diff_plans
from planner.plans.exports.karpenter import render_node_pools
from planner.plans.live_targets import target_at

label = st.from_regex(r"[a-z]([a-z0-9-]{0,40}[a-z0-9])?", fullmatch=True)
policy = st.builds(
    ScalingPolicy,
    st.sampled_from(["Pods", "Percent"]),
    st.integers(1, 1000),
    st.integers(1, 1800),
)
rules = st.builds(
    ScalingRules,
    st.integers(0, 3600),
    st.lists(policy, max_size=3).map(tuple),
    st.sampled_from(["Max", "Min", "Disabled"]),
)
metric = st.one_of(
    st.builds(
        PrometheusMetric,
        st.just("http://prometheus:9090"),
        st.just("sum(rate(requests_total[2m]))"),
        st.floats(0.001, 1e6, allow_nan=False),
        st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
    ),
    st.builds(
        QueueMetric,
        st.sampled_from(["rabbitmq", "redis"]),
        label,
        st.integers(1, 10_000),
    ),
)


@st.composite
def decisions(draw) -> PlanDecision:
    lo = draw(st.integers(0, 50))
    warm = draw(st.integers(0, 5))
    hi = draw(st.integers(max(1, lo + warm), 500))
    share = draw(st.sampled_from([0.0, 0.1, 0.5, 0.95, 1.0]))  # k/n, n <= 20
    if share == 1.0:
        caps = ("spot",)
    elif share > 0:
        caps = ("spot", "on-demand")
    else:
        caps = draw(st.sampled_from([("on-demand",), ("on-demand", "reserved")]))
    windows = tuple(
        ScheduleWindow(
            f"w{i}", "Europe/Paris", "0 7 * * 1-5", "30 18 * * 1-5", draw(st.integers(0, hi))
        )
        for i in range(draw(st.integers(0, 2)))
    )
    return PlanDecision(
        service_slug=draw(label),
        namespace=draw(label),
        cluster=draw(label),
        deployment_name=draw(label),
        provider=draw(st.sampled_from(["aws", "azure", "gcp"])),
        instance_types=tuple(
            draw(
                st.lists(
                    st.sampled_from(["p5.48xlarge", "g5.xlarge", "a2-highgpu-1g"]),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            )
        ),
        min_replicas=lo,
        max_replicas=hi,
        warm_pool_replicas=warm,
        metric=draw(metric),
        gpus_per_replica=draw(st.integers(1, 8)),
        mig_profile=draw(st.sampled_from(["", "1g.5gb", "3g.40gb"])),
        polling_interval_seconds=draw(st.integers(1, 3600)),
        cooldown_seconds=draw(st.integers(0, 86400)),
        scale_up=draw(rules),
        scale_down=draw(rules),
        spot_share=share,
        capacity_types=caps,
        fallback_replicas=draw(st.one_of(st.none(), st.integers(0, hi))),
        schedules=windows,
    ).validate()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decisions())
def test_every_valid_decision_renders_valid_manifests(d):
    so = render_scaled_object(d, 1, LiveTargets("https://h.example"))
    hpa = render_hpa(d, 1)
    pools = render_node_pools(d, 1)
    assert so["spec"]["minReplicaCount"] == d.min_replicas  # warm pool: placeholders
    assert hpa["spec"]["minReplicas"] == max(1, so["spec"]["minReplicaCount"])
    limits = {
        p["metadata"]["name"].rsplit("-", 1)[-1]: p["spec"]["limits"]["nvidia.com/gpu"]
        for p in pools
    }
    assert set(limits.values()) == {d.max_replicas * d.gpus_per_replica}  # no absolute spot cap
    assert pools, "at least one pool"
    assert diff_plans([d], [d]).changed == ()


@settings(max_examples=40, deadline=None)
@given(decisions(), st.datetimes(timezones=st.just(__import__("datetime").UTC)))
def test_live_target_stays_within_bounds(d, when):
    live = target_at(d, when)
    assert d.min_replicas <= live.target_replicas <= d.max_replicas
    if not live.active_schedules:
        assert live.target_replicas == d.min_replicas
