"""A warm pool on Kubernetes: low-priority placeholder pods that keep GPU nodes ready.

Kubernetes has no stopped-instance pool (EC2 Auto Scaling warm pools have no equivalent
under Karpenter), so the plan's ``warm_pool_replicas`` become the cluster-autoscaler /
Karpenter *over-provisioning* pattern:

* a ``PriorityClass`` ``headroom-warm-pool`` with value -10 and ``preemptionPolicy: Never``
  (below every workload's default priority 0, never preempting anything itself);
* a ``Deployment`` ``<deployment>-warm-pool`` of ``warm_pool_replicas`` placeholder pods
  at that priority, each requesting one replica's GPUs on the service's on-demand
  NodePool and running the serving image (so its layers are on the node) with a command
  that only sleeps.

When the autoscaler adds a replica, the scheduler preempts a placeholder and the replica
starts on a node that is already up: the simulator's warm start. The evicted placeholder
goes Pending and Karpenter provisions a node for it: the pool refills after a cold start,
as simulated. The pool's nodes run all the time, so they are billed at the full
on-demand price -- a plan exported this way must be simulated with
``warm_pool_cost_fraction = 1``.
"""

from __future__ import annotations

from typing import Any

from .autoscalers import labels
from .decision import PlanDecision
from .errors import ManifestReadError
from .validate import validate_manifest

PRIORITY_CLASS = "headroom-warm-pool"
PRIORITY_VALUE = -10
WARM_POOL_LABEL = "headroom.io/warm-pool-for"


def render_priority_class() -> dict[str, Any]:
    """The shared low PriorityClass of every warm pool's placeholder pods."""
    return validate_manifest(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {
                "name": PRIORITY_CLASS,
                "labels": {"app.kubernetes.io/managed-by": "headroom"},
            },
            "value": PRIORITY_VALUE,
            "preemptionPolicy": "Never",
            "globalDefault": False,
            "description": "Headroom warm pool: placeholder pods any workload may preempt.",
        }
    )


def render_warm_pool(
    decision: PlanDecision, image: str, plan_version: int | None = None
) -> dict[str, Any]:
    """The placeholder Deployment holding ``warm_pool_replicas`` GPU nodes ready."""
    decision.validate()
    name = f"{decision.deployment_name}-warm-pool"[:63].rstrip("-")
    pod_labels = {WARM_POOL_LABEL: decision.deployment_name}
    gpus = {"nvidia.com/gpu": str(decision.gpus_per_replica)}
    node_selector = {
        "headroom.io/service": decision.service_slug,
        "karpenter.sh/capacity-type": "on-demand",
    }
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": decision.namespace,
            "labels": {**labels(decision, plan_version), **pod_labels},
        },
        "spec": {
            "replicas": decision.warm_pool_replicas,
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "priorityClassName": PRIORITY_CLASS,
                    "terminationGracePeriodSeconds": 0,
                    "nodeSelector": node_selector,
                    "tolerations": [
                        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "containers": [
                        {
                            "name": "placeholder",
                            "image": image,
                            "command": ["sleep", "infinity"],
                            "resources": {"requests": gpus, "limits": gpus},
                        }
                    ],
                },
            },
        },
    }
    return validate_manifest(manifest)


def read_warm_pool(manifests: list[dict[str, Any]], deployment_name: str) -> int:
    """Placeholder replicas kept for ``deployment_name`` (0 when there is no warm pool)."""
    for m in manifests:
        if m.get("kind") != "Deployment":
            continue
        spec = m.get("spec") or {}
        pod = ((spec.get("template") or {}).get("spec")) or {}
        match = (spec.get("selector") or {}).get("matchLabels") or {}
        if match.get(WARM_POOL_LABEL) == deployment_name:
            if pod.get("priorityClassName") != PRIORITY_CLASS:
                raise ManifestReadError(
                    f"warm pool Deployment {m['metadata']['name']}: priorityClassName is not "
                    f"{PRIORITY_CLASS}; its pods would not yield to the service's replicas"
                )
            return int(spec.get("replicas", 1))
    return 0
