"""Read exported autoscaler objects back into the simulator's policy and purchase mix.

The inverse of :mod:`.simulated`: a KEDA ScaledObject or an HPA (with the warm pool's
placeholder Deployment beside it), the Karpenter NodePools, or an Application Auto
Scaling target as described by AWS become an :class:`AutoscalingPolicy` /
:class:`PurchaseMix` that the simulator replays. Anything the simulator does not model
(cron or live-target triggers, scale-down rate limits, an average query read as an
AverageValue, other selectPolicy values) raises :class:`ManifestReadError` naming the
field, instead of being read as something else. Times the autoscaler fixes (the HPA's
15 s sync, AWS's alarm datapoints) come back as those values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from costmodels.results import METRICS, AutoscalingPolicy, PurchaseMix

from ..aws_apply import AwsTargetState
from .decision import CommitmentPurchase
from .errors import ManifestReadError
from .karpenter import SPREAD_LABEL
from .simulated import AWS_DOWN_WINDOW_MIN, AWS_REQUESTS_METRIC, AWS_UP_WINDOW_MIN, K8S_TOLERANCE
from .warm_pool import read_warm_pool

HPA_SYNC_S = 15.0
KEDA_DEFAULT_POLLING_S, KEDA_DEFAULT_COOLDOWN_S = 30.0, 300.0
_QUEUE = re.compile(r"num_requests_waiting|tgi_queue_size")
_RUNNING = re.compile(r"num_requests_running|tgi_batch_current_size|http_requests_in_flight")


def metric_of_query(query: str, where: str = "query") -> str:
    """The simulator metric a total query measures; refuses averages and unknown series."""
    if re.search(r"\bavg\s*\(", query):
        raise ManifestReadError(
            f"{where}: {query!r} averages over replicas; with AverageValue the HPA would "
            f"want ceil(average / target) replicas whatever the load (sum the series instead)"
        )
    if "DCGM_FI_DEV_GPU_UTIL" in query:
        return "gpu_utilisation"
    if _QUEUE.search(query):
        return "queue_length"
    if _RUNNING.search(query):
        return "concurrency"
    if re.search(r"rate\(\s*http_requests_total", query):
        return "requests_per_replica"
    raise ManifestReadError(f"{where}: cannot tell which load {query!r} measures")


def parse_quantity(text: Any, where: str) -> float:
    """Kubernetes quantity ("12", "750m", 2.5) as a float."""
    s = str(text).strip()
    try:
        return float(s[:-1]) / 1000.0 if s.endswith("m") else float(s)
    except ValueError as exc:
        raise ManifestReadError(f"{where}: {text!r} is not a quantity") from exc


def _behavior(behavior: dict[str, Any], where: str) -> dict[str, float]:
    up = behavior.get("scaleUp") or {}
    down = behavior.get("scaleDown") or {}
    pods = [p for p in up.get("policies") or [] if p.get("type") == "Pods"]
    if len(up.get("policies") or []) != 1 or len(pods) != 1 or pods[0]["periodSeconds"] != 60:
        raise ManifestReadError(
            f"{where}.scaleUp.policies: the simulator adds at most n replicas a minute; "
            f"expected one Pods policy with periodSeconds 60"
        )
    if up.get("selectPolicy", "Max") != "Max" or down.get("selectPolicy", "Max") != "Max":
        raise ManifestReadError(f"{where}: selectPolicy other than Max is not simulated")
    for p in down.get("policies") or []:
        if not (p["type"] == "Percent" and p["value"] >= 100 and p["periodSeconds"] <= 60):
            raise ManifestReadError(
                f"{where}.scaleDown.policies: {p} limits the scale-down rate; the simulator "
                f"removes replicas at once"
            )
    return {
        "scale_up_stabilisation_s": float(up.get("stabilizationWindowSeconds", 0)),
        "scale_down_stabilisation_s": float(down.get("stabilizationWindowSeconds", 300)),
        "max_scale_up_replicas_per_min": int(pods[0]["value"]),
    }


def _find(manifests: Sequence[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [m for m in manifests if m.get("kind") == kind]
    if len(found) != 1:
        raise ManifestReadError(f"expected one {kind}, found {len(found)}")
    return found[0]


def _policy(metric: str, target: float, lo: int, hi: int, polling: float, rules, warm: int):
    return AutoscalingPolicy(
        metric=metric,
        target=target,
        min_replicas=lo,
        max_replicas=hi,
        polling_interval_s=polling,
        cooldown_s=0.0,
        warm_pool=warm,
        warm_pool_cost_fraction=1.0,
        tolerance=K8S_TOLERANCE,
        **rules,
    )


def read_scaled_object(manifests: Sequence[dict[str, Any]]) -> AutoscalingPolicy:
    """The policy a KEDA ScaledObject (and its warm pool, if any) runs."""
    so = _find(manifests, "ScaledObject")
    spec, name = so["spec"], so["metadata"]["name"]
    where = f"ScaledObject {name}"
    triggers = spec.get("triggers") or []
    if len(triggers) != 1 or triggers[0].get("type") != "prometheus":
        kinds = [t.get("type") for t in triggers]
        raise ManifestReadError(
            f"{where}.spec.triggers: {kinds}; only one prometheus trigger is simulated "
            f"(schedules and live targets are not)"
        )
    trig = triggers[0]
    if trig.get("metricType", "AverageValue") != "AverageValue":
        raise ManifestReadError(f"{where}: metricType {trig['metricType']} is not simulated")
    meta = trig["metadata"]
    metric = metric_of_query(meta["query"], f"{where}.triggers[0].metadata.query")
    beh = ((spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}).get(
        "behavior"
    ) or {}
    rules = _behavior(beh, f"{where}.spec.advanced.horizontalPodAutoscalerConfig.behavior")
    lo = int(spec.get("minReplicaCount", 0))
    if lo == 0:
        cooldown = float(spec.get("cooldownPeriod", KEDA_DEFAULT_COOLDOWN_S))
        if cooldown != rules["scale_down_stabilisation_s"]:
            raise ManifestReadError(
                f"{where}.spec.cooldownPeriod {cooldown:g} s: the simulator scales to zero "
                f"after the scale-down window ({rules['scale_down_stabilisation_s']:g} s)"
            )
    polling = float(spec.get("pollingInterval", KEDA_DEFAULT_POLLING_S))
    warm = read_warm_pool(list(manifests), spec["scaleTargetRef"]["name"])
    threshold = float(meta["threshold"])
    return _policy(
        metric, threshold, lo, int(spec.get("maxReplicaCount", 100)), polling, rules, warm
    )


def read_hpa(manifests: Sequence[dict[str, Any]]) -> AutoscalingPolicy:
    """The policy an autoscaling/v2 HPA (and its warm pool, if any) runs. The External
    metric's name ends in the simulator metric (``<service>_<metric>``, see simulated)."""
    hpa = _find(manifests, "HorizontalPodAutoscaler")
    spec, where = hpa["spec"], f"HorizontalPodAutoscaler {hpa['metadata']['name']}"
    metrics = spec.get("metrics") or []
    if len(metrics) != 1 or metrics[0].get("type") != "External":
        raise ManifestReadError(f"{where}.spec.metrics: expected one External metric")
    ext = metrics[0]["external"]
    kind = next((m for m in METRICS if ext["metric"]["name"].endswith(m)), None)
    if kind is None:
        raise ManifestReadError(f"{where}: metric {ext['metric']['name']!r} names no load")
    if ext["target"]["type"] != "AverageValue":
        raise ManifestReadError(f"{where}: target type {ext['target']['type']} is not simulated")
    target = parse_quantity(ext["target"]["averageValue"], f"{where}.target.averageValue")
    rules = _behavior(spec.get("behavior") or {}, f"{where}.spec.behavior")
    warm = read_warm_pool(list(manifests), spec["scaleTargetRef"]["name"])
    lo, hi = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
    return _policy(kind, target, lo, hi, HPA_SYNC_S, rules, warm)


def _pool_values(pool: dict[str, Any]) -> tuple[set[str], list[str]]:
    reqs = pool["spec"]["template"]["spec"]["requirements"]
    caps = next(r["values"] for r in reqs if r["key"] == "karpenter.sh/capacity-type")
    spread = next((r["values"] for r in reqs if r["key"] == SPREAD_LABEL), [])
    return set(caps), spread


def read_node_pools(
    pools: Sequence[dict[str, Any]], commitments: Sequence[CommitmentPurchase] = ()
) -> PurchaseMix:
    """The purchase mix the service's NodePools hold (committed replicas come from the
    plan's commitments: they are billing, not capacity)."""
    spot, steady = [], []
    for p in pools:
        caps, spread = _pool_values(p)
        (spot if caps == {"spot"} else steady).append(spread)
    if spot and steady:
        if not all(spot + steady):
            raise ManifestReadError(
                "spot and on-demand NodePools without a capacity spread: the spot share "
                "would depend on the load (spot fills first)"
            )
        k, n = sum(map(len, spot)), sum(map(len, spot + steady))
        share = k / n
    else:
        share = 1.0 if spot else 0.0
    committed = sum(c.quantity for c in commitments)
    term = "3y" if any(c.term_months == 36 for c in commitments) else "1y"
    return PurchaseMix(committed_replicas=committed, spot_share=share, commitment_term=term)


def read_aws_state(state: AwsTargetState) -> AutoscalingPolicy:
    """The policy an Application Auto Scaling target (as AWS describes it) runs."""
    where = f"AWS target {state.resource_id}"
    if len(state.policies) != 1 or state.policies[0].predefined_metric != AWS_REQUESTS_METRIC:
        raise ManifestReadError(f"{where}: expected one {AWS_REQUESTS_METRIC} target tracking")
    if state.scheduled_actions:
        raise ManifestReadError(f"{where}: scheduled actions are not simulated")
    p = state.policies[0]
    return AutoscalingPolicy(
        metric="requests_per_replica",
        target=p.target_value / 60.0,
        min_replicas=state.min_capacity,
        max_replicas=state.max_capacity,
        polling_interval_s=60.0,
        scale_up_stabilisation_s=AWS_UP_WINDOW_MIN * 60.0,
        scale_down_stabilisation_s=AWS_DOWN_WINDOW_MIN * 60.0,
        cooldown_s=float(p.scale_in_cooldown_seconds),
        max_scale_up_replicas_per_min=max(1, state.max_capacity),
        warm_pool=0,
        tolerance=0.1,
        scale_out_tolerance=0.0,
    )
