"""Render a PlanDecision as KEDA ``ScaledObject`` or Kubernetes ``HorizontalPodAutoscaler``.

Both renderers return plain dicts that have already passed
:func:`planner.plans.exports.validate.validate_manifest`; callers serialise
them with :func:`planner.plans.exports.yamlio.dump_manifests`.

KEDA semantics used here (keda.sh/v1alpha1):

* Prometheus trigger: KEDA serves it to the HPA as an External metric; with
  ``metricType: AverageValue`` the HPA computes desired = ceil(query value /
  ``threshold``), so the query must be the service's *total* (a sum: requests/s,
  GPU busy % over all GPUs, requests in flight or waiting), never an average (an
  average over AverageValue gives at most ceil(avg / threshold) replicas).
  ``activationThreshold`` gates 0 -> 1.
* ``pollingInterval`` paces KEDA's own activity checks (0 <-> 1); between 1 and
  max the HPA reads the metric every sync period (15 s by default).
  ``cooldownPeriod`` only delays scaling 1 -> 0, so it is written only when the
  floor is 0; scaling between 1 and max is held by ``behavior`` (stabilisation
  windows and rate policies), as for any HPA.
* Queue triggers: RabbitMQ ``QueueLength`` ``value``, Redis list
  ``listLength``, SQS ``queueLength`` — messages per replica.
* Cron trigger per schedule window: ``desiredReplicas`` between start and end;
  KEDA takes the maximum over triggers, so a window acts as a floor.
* Optional ``metrics-api`` trigger polling Headroom's live-target endpoint;
  with ``targetValue: "1"`` its value (``target_replicas``) is a live floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .decision import PlanDecision, PrometheusMetric, QueueMetric, ScalingRules
from .validate import validate_manifest

MANAGED_BY = {"app.kubernetes.io/managed-by": "headroom"}


@dataclass(frozen=True)
class LiveTargets:
    """Where KEDA's metrics-api scaler reads Headroom's live target.

    ``base_url`` is Headroom's external URL; ``auth_ref`` names the KEDA
    ``TriggerAuthentication`` (authMode ``bearer``) holding the cluster token.
    """

    base_url: str
    auth_ref: str = "headroom-live-targets"

    def url_for(self, service_slug: str) -> str:
        return f"{self.base_url.rstrip('/')}/api/keda/targets/{service_slug}"


def number_str(value: float) -> str:
    """KEDA metadata values are strings: 12 -> "12", 0.75 -> "0.75"."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def quantity(value: float) -> str:
    """Kubernetes Quantity in canonical form: 12 -> "12", 0.75 -> "750m"."""
    if float(value).is_integer():
        return str(int(value))
    milli = round(value * 1000)
    return f"{milli}m"


def labels(decision: PlanDecision, plan_version: int | None) -> dict[str, str]:
    out = {**MANAGED_BY, "headroom.io/service": decision.service_slug}
    if plan_version is not None:
        out["headroom.io/plan-version"] = str(plan_version)
    return out


def behavior(decision: PlanDecision) -> dict[str, Any]:
    """HPA ``behavior`` block shared by the HPA and KEDA renderers."""

    def rules(r: ScalingRules) -> dict[str, Any]:
        out: dict[str, Any] = {"stabilizationWindowSeconds": r.stabilization_window_seconds}
        if r.policies:
            out["selectPolicy"] = r.select_policy
            out["policies"] = [
                {"type": p.type, "value": p.value, "periodSeconds": p.period_seconds}
                for p in r.policies
            ]
        return out

    return {"scaleUp": rules(decision.scale_up), "scaleDown": rules(decision.scale_down)}


def _queue_trigger(m: QueueMetric) -> dict[str, Any]:
    per_replica = str(m.target_length_per_replica)
    if m.kind == "rabbitmq":
        meta = {"protocol": "amqp", "queueName": m.queue_name, "mode": "QueueLength"}
        meta["value"] = per_replica
        meta["hostFromEnv"] = m.connection_env or "RABBITMQ_URL"
        trigger: dict[str, Any] = {"type": "rabbitmq", "metadata": meta}
    elif m.kind == "redis":
        meta = {"address": m.address or "redis:6379", "listName": m.queue_name}
        meta["listLength"] = per_replica
        trigger = {"type": "redis", "metadata": meta}
    else:
        meta = {"queueURL": m.queue_url, "queueLength": per_replica, "awsRegion": m.aws_region}
        trigger = {"type": "aws-sqs-queue", "metadata": meta}
    if m.auth_ref:
        trigger["authenticationRef"] = {"name": m.auth_ref}
    return trigger


def keda_triggers(decision: PlanDecision, live: LiveTargets | None = None) -> list[dict[str, Any]]:
    m = decision.metric
    if isinstance(m, PrometheusMetric):
        meta = {"serverAddress": m.server_address, "query": m.query}
        meta["threshold"] = number_str(m.threshold)
        if m.activation_threshold is not None:
            meta["activationThreshold"] = number_str(m.activation_threshold)
        triggers = [
            {
                "type": "prometheus",
                "name": m.metric_name,
                "metricType": "AverageValue",
                "metadata": meta,
            }
        ]
    else:
        queue = _queue_trigger(m)
        triggers = [{"type": queue.pop("type"), "name": f"{m.kind}-backlog", **queue}]
    for window in decision.schedules:
        triggers.append(
            {
                "type": "cron",
                "name": f"schedule-{window.name}",
                "metadata": {
                    "timezone": window.timezone,
                    "start": window.start_cron,
                    "end": window.end_cron,
                    "desiredReplicas": str(window.desired_replicas),
                },
            }
        )
    if live is not None:
        triggers.append(
            {
                "type": "metrics-api",
                "name": "headroom-live-target",
                "metricType": "AverageValue",
                "metadata": {
                    "url": live.url_for(decision.service_slug),
                    "valueLocation": "target_replicas",
                    "targetValue": "1",
                    "authMode": "bearer",
                },
                "authenticationRef": {"name": live.auth_ref},
            }
        )
    return triggers


def render_scaled_object(
    decision: PlanDecision,
    plan_version: int | None = None,
    live: LiveTargets | None = None,
) -> dict[str, Any]:
    """KEDA ScaledObject (keda.sh/v1alpha1) for the decision's Deployment, validated."""
    decision.validate()
    spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": decision.deployment_name,
        },
        "pollingInterval": decision.polling_interval_seconds,
        "minReplicaCount": decision.effective_min_replicas,
        "maxReplicaCount": decision.max_replicas,
        "advanced": {
            "restoreToOriginalReplicaCount": False,
            "horizontalPodAutoscalerConfig": {"behavior": behavior(decision)},
        },
        "triggers": keda_triggers(decision, live),
    }
    if decision.effective_min_replicas == 0:  # KEDA's cooldownPeriod only governs 1 -> 0
        spec["cooldownPeriod"] = decision.cooldown_seconds
    if decision.fallback_replicas is not None:
        spec["fallback"] = {
            "failureThreshold": decision.fallback_failure_threshold,
            "replicas": decision.fallback_replicas,
        }
    manifest = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": decision.deployment_name,
            "namespace": decision.namespace,
            "labels": labels(decision, plan_version),
        },
        "spec": spec,
    }
    return validate_manifest(manifest)


def _external_metric(decision: PlanDecision) -> dict[str, Any]:
    m = decision.metric
    if isinstance(m, PrometheusMetric):
        name, target = m.metric_name, m.threshold
        selector = {"matchLabels": {"service": decision.service_slug}}
    else:
        name = {
            "rabbitmq": "rabbitmq_queue_messages_ready",
            "redis": "redis_key_size",
            "aws-sqs": "aws_sqs_approximate_number_of_messages_visible",
        }[m.kind]
        target = m.target_length_per_replica
        selector = {"matchLabels": {"queue": m.queue_name}}
    return {
        "type": "External",
        "external": {
            "metric": {"name": name, "selector": selector},
            "target": {"type": "AverageValue", "averageValue": quantity(target)},
        },
    }


def render_hpa(decision: PlanDecision, plan_version: int | None = None) -> dict[str, Any]:
    """HorizontalPodAutoscaler autoscaling/v2 for clusters without KEDA, validated.

    The metric is read as an External metric (served by prometheus-adapter or
    a queue exporter under the same name); schedules need KEDA or the live
    target endpoint and are listed in the bundle's CHANGES.md instead.
    """
    decision.validate()
    manifest = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": decision.deployment_name,
            "namespace": decision.namespace,
            "labels": labels(decision, plan_version),
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": decision.deployment_name,
            },
            "minReplicas": max(1, decision.effective_min_replicas),
            "maxReplicas": decision.max_replicas,
            "metrics": [_external_metric(decision)],
            "behavior": behavior(decision),
        },
    }
    return validate_manifest(manifest)
