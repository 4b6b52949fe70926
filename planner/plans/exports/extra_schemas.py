"""Schemas for the two plain Kubernetes kinds a warm pool adds (PriorityClass, Deployment).

Kubernetes' full OpenAPI documents for ``scheduling.k8s.io/v1`` and ``apps/v1`` are large
and not vendored; these are *Headroom's subset*: exactly the fields the warm-pool renderer
and the capacity-spread patch (a strategic-merge patch: selector and containers omitted)
write, with Kubernetes' types and bounds (priority value int32, preemption policy enum,
replicas >= 0, container image and command strings, resource quantities), and no unknown
fields, so a typo in the renderer fails here instead of at ``kubectl apply``. Object
metadata uses the vendored ``ObjectMeta``.
"""

from __future__ import annotations

from typing import Any

INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def priority_class_schema(meta: dict[str, Any]) -> dict[str, Any]:
    return _closed(
        {
            "apiVersion": {"const": "scheduling.k8s.io/v1"},
            "kind": {"const": "PriorityClass"},
            "metadata": meta,
            "value": INT32,
            "preemptionPolicy": {"enum": ["Never", "PreemptLowerPriority"]},
            "globalDefault": {"type": "boolean"},
            "description": {"type": "string"},
        },
        ("apiVersion", "kind", "metadata", "value"),
    )


def deployment_schema(meta: dict[str, Any], quantity: dict[str, Any]) -> dict[str, Any]:
    resources = _closed(
        {
            "requests": {"type": "object", "additionalProperties": quantity},
            "limits": {"type": "object", "additionalProperties": quantity},
        }
    )
    container = _closed(
        {
            "name": {"type": "string", "minLength": 1},
            "image": {"type": "string", "minLength": 1},
            "command": {"type": "array", "items": {"type": "string"}},
            "resources": resources,
        },
        ("name", "image"),
    )
    toleration = _closed(
        {
            "key": {"type": "string"},
            "operator": {"enum": ["Exists", "Equal"]},
            "value": {"type": "string"},
            "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
        }
    )
    spread = _closed(
        {
            "maxSkew": {"type": "integer", "minimum": 1},
            "topologyKey": {"type": "string", "minLength": 1},
            "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]},
            "labelSelector": _closed({"matchLabels": STRING_MAP}),
        },
        ("maxSkew", "topologyKey", "whenUnsatisfiable"),
    )
    pod_spec = _closed(
        {
            "topologySpreadConstraints": {"type": "array", "items": spread},
            "priorityClassName": {"type": "string"},
            "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
            "nodeSelector": STRING_MAP,
            "tolerations": {"type": "array", "items": toleration},
            "containers": {"type": "array", "items": container, "minItems": 1},
        },
    )
    template = _closed({"metadata": _closed({"labels": STRING_MAP}), "spec": pod_spec})
    spec = _closed(
        {
            "replicas": {**INT32, "minimum": 0},
            "selector": _closed({"matchLabels": STRING_MAP}, ("matchLabels",)),
            "template": template,
        },
        ("template",),
    )
    return _closed(
        {
            "apiVersion": {"const": "apps/v1"},
            "kind": {"const": "Deployment"},
            "metadata": meta,
            "spec": spec,
        },
        ("apiVersion", "kind", "metadata", "spec"),
    )
