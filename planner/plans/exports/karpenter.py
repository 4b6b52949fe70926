"""Render a PlanDecision as Karpenter ``NodePool`` objects (karpenter.sh/v1).

Spot share is expressed with two pools for the service, the way Karpenter's
docs recommend for a spot/on-demand split:

* ``<slug>-spot``: ``karpenter.sh/capacity-type In [spot]``, weight 100 (tried
  first because it is cheaper), GPU limit ``ceil(spot_share x max_gpus)``;
* ``<slug>-on-demand``: ``In [on-demand]`` (plus ``reserved`` when the plan
  buys capacity reservations), weight 10, GPU limit ``max_gpus`` so it can
  also absorb spot shortages.

So at most ``spot_share`` of the service's GPUs run on spot. Pools carry the
label ``headroom.io/service`` so the Deployment can select them, a
``nvidia.com/gpu`` NoSchedule taint, and — for a MIG plan — the GPU
Operator's ``nvidia.com/mig.config`` label (``all-<profile>``) so the MIG
manager partitions the GPUs.
"""

from __future__ import annotations

import math
from typing import Any

from .autoscalers import labels
from .decision import PlanDecision
from .validate import validate_manifest

NODE_CLASS = {
    "aws": ("karpenter.k8s.aws", "EC2NodeClass"),
    "azure": ("karpenter.azure.com", "AKSNodeClass"),
    "gcp": ("karpenter.k8s.gcp", "GCENodeClass"),
}
SPOT_WEIGHT, ON_DEMAND_WEIGHT = 100, 10


def spot_gpu_limit(decision: PlanDecision) -> int:
    """GPUs the spot pool may hold: ceil(spot_share x max_gpus)."""
    return math.ceil(decision.spot_share * decision.max_gpus - 1e-9)


def _pool(
    decision: PlanDecision,
    suffix: str,
    capacity_types: list[str],
    weight: int,
    gpu_limit: int,
    node_class: str,
    plan_version: int | None,
) -> dict[str, Any]:
    group, kind = NODE_CLASS[decision.provider]
    node_labels = {"headroom.io/service": decision.service_slug}
    if decision.mig_profile:
        node_labels["nvidia.com/mig.config"] = f"all-{decision.mig_profile}"
    manifest = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {
            "name": f"{decision.service_slug}-{suffix}",
            "labels": labels(decision, plan_version),
        },
        "spec": {
            "weight": weight,
            "limits": {"nvidia.com/gpu": gpu_limit},
            "disruption": {
                "consolidationPolicy": decision.consolidation_policy,
                "consolidateAfter": decision.consolidate_after,
                "budgets": [{"nodes": decision.disruption_budget_nodes}],
            },
            "template": {
                "metadata": {"labels": node_labels},
                "spec": {
                    "nodeClassRef": {"group": group, "kind": kind, "name": node_class},
                    "requirements": [
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": list(decision.instance_types),
                        },
                        {
                            "key": "karpenter.sh/capacity-type",
                            "operator": "In",
                            "values": capacity_types,
                        },
                    ],
                    "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                    "expireAfter": "720h",
                },
            },
        },
    }
    return validate_manifest(manifest)


def render_node_pools(
    decision: PlanDecision,
    plan_version: int | None = None,
    node_class: str = "default",
) -> list[dict[str, Any]]:
    """One or two validated NodePools for the decision (spot and/or on-demand)."""
    decision.validate()
    pools: list[dict[str, Any]] = []
    if decision.spot_share > 0 and "spot" in decision.capacity_types:
        pools.append(
            _pool(
                decision,
                "spot",
                ["spot"],
                SPOT_WEIGHT,
                spot_gpu_limit(decision),
                node_class,
                plan_version,
            )
        )
    steady = [c for c in ("on-demand", "reserved") if c in decision.capacity_types]
    if steady:
        pools.append(
            _pool(
                decision,
                "on-demand",
                steady,
                ON_DEMAND_WEIGHT,
                decision.max_gpus,
                node_class,
                plan_version,
            )
        )
    return pools
