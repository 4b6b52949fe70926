"""EC2 Auto Scaling group export: target tracking and a warm pool of stopped instances.

The AWS target that has a warm pool. A simulated policy becomes three API requests:

* ``UpdateAutoScalingGroup`` -- ``MinSize`` / ``MaxSize`` = the policy's replica bounds;
* ``PutScalingPolicy`` -- ``TargetTrackingScaling`` on a per-instance average: the load
  balancer's ``ALBRequestCountPerTarget`` (requests per minute: target x 60) or the
  CloudWatch agent's ``nvidia_smi_utilization_gpu`` averaged over the group (busy %);
  target tracking wants ~ceil(current x average / target) instances, the simulator's
  ceil(total / target). Like Application Auto Scaling it scales out above the target and
  in only ~10 % below it, through managed alarms of 3 and 15 one-minute datapoints
  (simulated as ``scale_out_tolerance=0``, ``tolerance=0.1``, windows 120 s / 840 s), and
  adds what it computes at once. EC2 target tracking has no scale-in cooldown (only the
  instance warm-up), so the policy's ``cooldown_s`` must be <= 60 s;
* ``PutWarmPool`` -- ``PoolState: Stopped``, ``MinSize`` = the warm pool, and
  ``MaxGroupPreparedCapacity: 0`` so the pool stays at ``MinSize`` whatever the desired
  capacity; ``ReuseOnScaleIn`` returns scaled-in instances to it (as simulated). A
  stopped instance bills only its EBS volumes: the simulated
  ``warm_pool_cost_fraction`` must be :func:`stopped_warm_fraction` of the on-demand
  price (root volume x gp3 price), so the warm pool is costed as exported.
"""

from __future__ import annotations

import math
from typing import Any

from costmodels.catalog import HOURS_PER_MONTH
from costmodels.results import AutoscalingPolicy

from .errors import ExportRefused, ManifestReadError
from .simulated import AWS_DOWN_WINDOW_MIN, AWS_UP_WINDOW_MIN, ExportTarget

EBS_GP3_USD_PER_GIB_MONTH = 0.08  # us-east-1 list price of gp3 storage
GPU_METRIC = {
    "MetricName": "nvidia_smi_utilization_gpu",
    "Namespace": "CWAgent",
    "Statistic": "Average",
    "Unit": "Percent",
}
POLICY_NAME = "headroom-target-tracking"


def stopped_warm_fraction(ondemand_usd_per_hour: float, root_volume_gib: float) -> float:
    """Cost of a stopped warm-pool instance (its EBS volume) as a share of on-demand."""
    ebs_per_hour = root_volume_gib * EBS_GP3_USD_PER_GIB_MONTH / HOURS_PER_MONTH
    return ebs_per_hour / ondemand_usd_per_hour


def ec2_refusals(
    policy: AutoscalingPolicy, target: ExportTarget, ondemand_usd_per_hour: float, volume_gib: float
) -> list[str]:
    """Why ``policy`` cannot run as simulated on the EC2 Auto Scaling group."""
    out = []
    if not target.aws_resource_id.startswith("asg/"):
        out.append("name the Auto Scaling group as aws_resource_id 'asg/<group name>'")
    if policy.metric == "requests_per_replica" and not target.alb_resource_label:
        out.append("requests_per_replica needs the target group's ALB resource label")
    elif policy.metric not in ("requests_per_replica", "gpu_utilisation"):
        out.append(
            f"{policy.metric}: no per-instance CloudWatch metric; simulate "
            f"requests_per_replica or gpu_utilisation"
        )
    tol_out = policy.tolerance if policy.scale_out_tolerance is None else policy.scale_out_tolerance
    if policy.tolerance != 0.1 or tol_out != 0.0:
        out.append("tolerance: simulate with tolerance=0.1, scale_out_tolerance=0")
    windows = (
        math.ceil(policy.scale_up_stabilisation_s / 60 - 1e-9),
        math.ceil(policy.scale_down_stabilisation_s / 60 - 1e-9),
    )
    if windows != (AWS_UP_WINDOW_MIN, AWS_DOWN_WINDOW_MIN):
        out.append("windows: simulate with scale_up/down_stabilisation_s = 120 / 840")
    if policy.polling_interval_s > 60 or policy.cooldown_s > 60:
        out.append("polling and cooldown: one-minute datapoints, no scale-in cooldown (<= 60 s)")
    if policy.max_scale_up_replicas_per_min < policy.max_replicas:
        out.append("scale-out rate: simulate max_scale_up_replicas_per_min >= max_replicas")
    frac = stopped_warm_fraction(ondemand_usd_per_hour, volume_gib)
    if policy.warm_pool and abs(policy.warm_pool_cost_fraction - frac) > 0.01 * frac:
        out.append(
            f"warm pool at {policy.warm_pool_cost_fraction:g} of the price: stopped "
            f"instances bill their {volume_gib:g} GiB volume, {frac:.4f} of on-demand"
        )
    return out


def render_ec2_asg(
    policy: AutoscalingPolicy,
    target: ExportTarget,
    ondemand_usd_per_hour: float,
    root_volume_gib: float = 200.0,
) -> dict[str, dict[str, Any]]:
    """The EC2 Auto Scaling requests (by API action) that run ``policy`` as simulated."""
    reasons = ec2_refusals(policy, target, ondemand_usd_per_hour, root_volume_gib)
    if reasons:
        raise ExportRefused(target.service_slug, "EC2 Auto Scaling", reasons)
    group = target.aws_resource_id.removeprefix("asg/")
    if policy.metric == "requests_per_replica":
        metric: dict[str, Any] = {
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ALBRequestCountPerTarget",
                "ResourceLabel": target.alb_resource_label,
            }
        }
        value = round(policy.target * 60.0, 6)
    else:
        dims = [{"Name": "AutoScalingGroupName", "Value": group}]
        metric = {"CustomizedMetricSpecification": {**GPU_METRIC, "Dimensions": dims}}
        value = float(policy.target)
    requests: dict[str, dict[str, Any]] = {
        "UpdateAutoScalingGroup": {
            "AutoScalingGroupName": group,
            "MinSize": policy.min_replicas,
            "MaxSize": policy.max_replicas,
        },
        "PutScalingPolicy": {
            "AutoScalingGroupName": group,
            "PolicyName": POLICY_NAME,
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": {**metric, "TargetValue": value},
        },
    }
    if policy.warm_pool:
        requests["PutWarmPool"] = {
            "AutoScalingGroupName": group,
            "MinSize": policy.warm_pool,
            "MaxGroupPreparedCapacity": 0,
            "PoolState": "Stopped",
            "InstanceReusePolicy": {"ReuseOnScaleIn": True},
        }
    return requests


def read_ec2_asg(
    group: dict[str, Any],
    policies: list[dict[str, Any]],
    warm_pool: dict[str, Any] | None,
    ondemand_usd_per_hour: float,
    root_volume_gib: float = 200.0,
) -> AutoscalingPolicy:
    """The policy an Auto Scaling group runs, from ``DescribeAutoScalingGroups``,
    ``DescribePolicies`` and ``DescribeWarmPool`` (its ``WarmPoolConfiguration``)."""
    where = f"Auto Scaling group {group.get('AutoScalingGroupName')}"
    tracking = [p for p in policies if p.get("PolicyType") == "TargetTrackingScaling"]
    if len(tracking) != 1 or len(policies) != 1:
        raise ManifestReadError(f"{where}: expected one target tracking policy only")
    cfg = tracking[0]["TargetTrackingConfiguration"]
    predefined = (cfg.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
    custom = cfg.get("CustomizedMetricSpecification") or {}
    if predefined == "ALBRequestCountPerTarget":
        metric, target = "requests_per_replica", float(cfg["TargetValue"]) / 60.0
    elif custom.get("MetricName") == GPU_METRIC["MetricName"]:
        metric, target = "gpu_utilisation", float(cfg["TargetValue"])
    else:
        raise ManifestReadError(
            f"{where}: the tracked metric {predefined or custom} is not simulated"
        )
    warm = 0
    if warm_pool:
        if warm_pool.get("PoolState") != "Stopped" or warm_pool.get("MaxGroupPreparedCapacity"):
            raise ManifestReadError(
                f"{where}: only a fixed-size pool of stopped instances is simulated"
            )
        warm = int(warm_pool.get("MinSize", 0))
    return AutoscalingPolicy(
        metric=metric,
        target=target,
        min_replicas=int(group["MinSize"]),
        max_replicas=int(group["MaxSize"]),
        polling_interval_s=60.0,
        scale_up_stabilisation_s=AWS_UP_WINDOW_MIN * 60.0,
        scale_down_stabilisation_s=AWS_DOWN_WINDOW_MIN * 60.0,
        cooldown_s=0.0,
        max_scale_up_replicas_per_min=max(1, int(group["MaxSize"])),
        warm_pool=warm,
        warm_pool_cost_fraction=stopped_warm_fraction(ondemand_usd_per_hour, root_volume_gib),
        tolerance=0.1,
        scale_out_tolerance=0.0,
    )
