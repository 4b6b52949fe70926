"""Render a PlanDecision as Karpenter ``NodePool`` objects (karpenter.sh/v1).

The spot share must hold at every load, not only at the maximum: a GPU limit on a
spot pool caps absolute GPUs, so at low load every replica would land on spot. The
split follows the Karpenter blueprint for an on-demand/spot ratio: the share is a
fraction ``k/n`` (n <= 20), the service's pools label their nodes with a custom
topology label ``headroom.io/capacity-spread`` whose values ``1..k`` only the spot pool
may use and ``k+1..n`` only the on-demand pool, and the Deployment spreads its pods
over that label with ``maxSkew: 1`` (:func:`render_spread_patch`, a strategic-merge
patch for the Deployment). With R replicas each of the n values holds floor or
ceil of R/n pods, so the spot replicas stay within ``k`` of ``share x R``
at every R. Both pools have the service's full GPU limit (a safety cap, not the split);
the spot pool's higher weight only orders pools whose values both fit.

A share of 0 or 1 needs one pool and no spread. Pools carry the label
``headroom.io/service`` so the Deployment can select them, a ``nvidia.com/gpu``
NoSchedule taint, and, for a MIG plan, the GPU Operator's ``nvidia.com/mig.config``
label (``all-<profile>``) so the MIG manager partitions the GPUs.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .autoscalers import labels
from .decision import PlanDecision
from .errors import ExportError
from .validate import validate_manifest

NODE_CLASS = {
    "aws": ("karpenter.k8s.aws", "EC2NodeClass"),
    "azure": ("karpenter.azure.com", "AKSNodeClass"),
    "gcp": ("karpenter.k8s.gcp", "GCENodeClass"),
}
SPOT_WEIGHT, ON_DEMAND_WEIGHT = 100, 10


SPREAD_LABEL = "headroom.io/capacity-spread"
MAX_SPREAD_DOMAINS = 20


def spread_fraction(share: float) -> Fraction:
    """``share`` as k/n with n <= 20; raises when no such fraction is within 1e-6."""
    frac = Fraction(share).limit_denominator(MAX_SPREAD_DOMAINS)
    if abs(float(frac) - share) > 1e-6:
        raise ExportError(
            f"spot share {share:g} is not a fraction k/n with n <= {MAX_SPREAD_DOMAINS}; "
            f"the topology spread can hold {frac} ({float(frac):.4f}): plan that share instead"
        )
    return frac


def spread_values(decision: PlanDecision) -> dict[str, list[str]]:
    """Capacity-spread label values per pool suffix ({} when no split is needed)."""
    if not 0.0 < decision.spot_share < 1.0:
        return {}
    frac = spread_fraction(decision.spot_share)
    k, n = frac.numerator, frac.denominator
    return {
        "spot": [str(i) for i in range(1, k + 1)],
        "on-demand": [str(i) for i in range(k + 1, n + 1)],
    }


def render_spread_patch(decision: PlanDecision) -> dict[str, Any] | None:
    """Strategic-merge patch spreading the Deployment's pods over the capacity-spread
    values (``kubectl patch deployment NAME --patch-file``); None without a split."""
    if not spread_values(decision):
        return None
    return validate_manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": decision.deployment_name, "namespace": decision.namespace},
            "spec": {
                "template": {
                    "metadata": {"labels": {SPREAD_LABEL: decision.deployment_name}},
                    "spec": {
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": SPREAD_LABEL,
                                "whenUnsatisfiable": "DoNotSchedule",
                                "labelSelector": {
                                    "matchLabels": {SPREAD_LABEL: decision.deployment_name}
                                },
                            }
                        ]
                    },
                }
            },
        }
    )


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
    values = spread_values(decision).get(suffix)
    spread = [{"key": SPREAD_LABEL, "operator": "In", "values": values}] if values else []
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
                        *spread,
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
                decision.max_gpus,
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
