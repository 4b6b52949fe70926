"""Checks Kubernetes and the operators make beyond the OpenAPI schema.

The vendored schemas catch types, enums, patterns and unknown fields. These
rules are enforced elsewhere and would otherwise only fail at ``kubectl apply``
time or, worse, when the operator reconciles:

* API server: object names (DNS-1123); HPA ``behavior`` bounds
  (stabilisation 0..3600 s, policy periods 1..1800 s, types Pods/Percent,
  selectPolicy Max/Min/Disabled) and ``minReplicas <= maxReplicas``;
* KEDA's admission webhook / scalers: min <= max, ``fallback`` needs a
  non-cron trigger with ``metricType: AverageValue`` and ``replicas >= 0``,
  each trigger type's required metadata, numeric values that parse;
* Karpenter's CEL rules (``x-kubernetes-validations`` in its CRD) that our
  output can hit: ``In`` requirements need values, ``minValues`` <= values,
  budgets set ``schedule`` and ``duration`` together, restricted label domains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# trigger type -> (required metadata keys, alternatives groups, numeric keys)
TRIGGER_RULES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[str, ...]]] = {
    "prometheus": (
        ("serverAddress", "query", "threshold"),
        (),
        ("threshold", "activationThreshold"),
    ),
    "rabbitmq": (("queueName",), (("host", "hostFromEnv"),), ("value", "activationValue")),
    "redis": (
        ("listName",),
        (("address", "addressFromEnv", "host", "hostFromEnv"),),
        ("listLength",),
    ),
    "aws-sqs-queue": (("queueURL",), (), ("queueLength",)),
    "cron": (("timezone", "start", "end", "desiredReplicas"), (), ("desiredReplicas",)),
    "metrics-api": (("url", "valueLocation", "targetValue"), (), ("targetValue",)),
}
KARPENTER_ALLOWED_LABELS = {"karpenter.sh/capacity-type"}
K8S_ALLOWED_LABELS = {
    "beta.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
    "failure-domain.beta.kubernetes.io/zone",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "node.kubernetes.io/windows-build",
}


@dataclass(frozen=True)
class FieldError:
    """One problem: a dotted path into the manifest (``spec.triggers[0].type``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


def _is_number(text: Any) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def _rules_errors(prefix: str, rules: Any) -> list[FieldError]:
    out: list[FieldError] = []
    if not isinstance(rules, dict):
        return out
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and not 0 <= window <= 3600:
        out.append(FieldError(f"{prefix}.stabilizationWindowSeconds", "must be within 0..3600"))
    if rules.get("selectPolicy") not in (None, "Max", "Min", "Disabled"):
        out.append(FieldError(f"{prefix}.selectPolicy", "must be Max, Min or Disabled"))
    for i, pol in enumerate(rules.get("policies") or []):
        if not isinstance(pol, dict):
            continue
        if pol.get("type") not in ("Pods", "Percent"):
            out.append(FieldError(f"{prefix}.policies[{i}].type", "must be Pods or Percent"))
        period = pol.get("periodSeconds")
        if isinstance(period, int) and not 1 <= period <= 1800:
            out.append(FieldError(f"{prefix}.policies[{i}].periodSeconds", "must be 1..1800"))
        value = pol.get("value")
        if isinstance(value, int) and value < 1:
            out.append(FieldError(f"{prefix}.policies[{i}].value", "must be > 0"))
    return out


def _trigger_errors(triggers: Any) -> list[FieldError]:
    out: list[FieldError] = []
    for i, trig in enumerate(triggers if isinstance(triggers, list) else []):
        if not isinstance(trig, dict) or not isinstance(trig.get("metadata"), dict):
            continue
        rules = TRIGGER_RULES.get(str(trig.get("type")))
        if rules is None:
            continue
        required, alternatives, numeric = rules
        meta = trig["metadata"]
        where = f"spec.triggers[{i}].metadata"
        for key in required:
            if not meta.get(key):
                out.append(
                    FieldError(f"{where}.{key}", f"is required by the {trig['type']} scaler")
                )
        for group in alternatives:
            if not any(meta.get(k) for k in group):
                out.append(FieldError(where, f"set one of {', '.join(group)}"))
        for key in numeric:
            if meta.get(key) not in (None, "") and not _is_number(meta[key]):
                out.append(FieldError(f"{where}.{key}", f"{meta[key]!r} is not a number"))
    return out


def _scaled_object_errors(spec: dict[str, Any]) -> list[FieldError]:
    out: list[FieldError] = []
    lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        out.append(FieldError("spec.minReplicaCount", f"{lo} exceeds spec.maxReplicaCount {hi}"))
    hpa = (spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
    behavior = hpa.get("behavior") or {}
    for d in ("scaleUp", "scaleDown"):
        prefix = f"spec.advanced.horizontalPodAutoscalerConfig.behavior.{d}"
        out += _rules_errors(prefix, behavior.get(d))
    triggers = spec.get("triggers") or []
    out += _trigger_errors(triggers)
    fallback = spec.get("fallback")
    if isinstance(fallback, dict):
        if isinstance(fallback.get("replicas"), int) and fallback["replicas"] < 0:
            out.append(FieldError("spec.fallback.replicas", "must be >= 0"))
        usable = [
            t
            for t in triggers
            if isinstance(t, dict)
            and t.get("type") != "cron"
            and t.get("metricType", "AverageValue") == "AverageValue"
        ]
        if not usable:
            out.append(
                FieldError("spec.fallback", "needs a non-cron trigger with metricType AverageValue")
            )
    return out


def _label_domain_error(key: str) -> str | None:
    """Karpenter's CEL label-domain rules (``x.find("^([^/]+)")`` is the part before '/')."""
    domain = key.split("/", 1)[0]
    if key == "karpenter.sh/nodepool" or key == "kubernetes.io/hostname":
        return f'label "{key}" is restricted'
    if domain.endswith("karpenter.sh") and key not in KARPENTER_ALLOWED_LABELS:
        return 'label domain "karpenter.sh" is restricted'
    if domain.endswith("kubernetes.io") and not (
        key in K8S_ALLOWED_LABELS
        or domain.endswith(("node.kubernetes.io", "node-restriction.kubernetes.io"))
    ):
        return 'label domain "kubernetes.io" is restricted'
    if domain.endswith("k8s.io") and not domain.endswith("kops.k8s.io"):
        return 'label domain "k8s.io" is restricted'
    return None


def _node_pool_errors(spec: dict[str, Any]) -> list[FieldError]:
    out: list[FieldError] = []
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    for key in labels if isinstance(labels, dict) else {}:
        problem = _label_domain_error(key)
        if problem:
            out.append(FieldError(f"spec.template.metadata.labels.{key}", problem))
    reqs = (template.get("spec") or {}).get("requirements") or []
    for i, r in enumerate(reqs if isinstance(reqs, list) else []):
        if not isinstance(r, dict):
            continue
        values = r.get("values") or []
        where = f"spec.template.spec.requirements[{i}]"
        if r.get("operator") == "In" and not values:
            out.append(FieldError(f"{where}.values", "requirements with operator 'In' need values"))
        if (
            isinstance(r.get("minValues"), int)
            and r.get("operator") == "In"
            and len(values) < r["minValues"]
        ):
            out.append(FieldError(f"{where}.minValues", "exceeds the number of values"))
        problem = _label_domain_error(str(r.get("key", "")))
        if problem:
            out.append(FieldError(f"{where}.key", problem))
    budgets = (spec.get("disruption") or {}).get("budgets") or []
    for i, b in enumerate(budgets if isinstance(budgets, list) else []):
        if isinstance(b, dict) and ("schedule" in b) != ("duration" in b):
            out.append(
                FieldError(
                    f"spec.disruption.budgets[{i}]", "'schedule' must be set with 'duration'"
                )
            )
    return out


def admission_errors(manifest: dict[str, Any]) -> list[FieldError]:
    """Rules enforced beyond the OpenAPI schema (see module docstring)."""
    out: list[FieldError] = []
    meta = manifest.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        out.append(FieldError("metadata.name", "is required"))
    elif len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        out.append(FieldError("metadata.name", f"{name!r} is not a DNS-1123 subdomain"))
    ns = meta.get("namespace")
    if ns is not None and (not isinstance(ns, str) or len(ns) > 63 or not DNS_LABEL.match(ns)):
        out.append(FieldError("metadata.namespace", f"{ns!r} is not a DNS-1123 label"))
    kind, spec = manifest.get("kind"), manifest.get("spec") or {}
    if not isinstance(spec, dict):
        return out
    if kind == "HorizontalPodAutoscaler":
        lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if isinstance(hi, int) and hi < 1:
            out.append(FieldError("spec.maxReplicas", "must be >= 1"))
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            out.append(FieldError("spec.minReplicas", f"{lo} exceeds spec.maxReplicas {hi}"))
        behavior = spec.get("behavior") or {}
        for d in ("scaleUp", "scaleDown"):
            out += _rules_errors(f"spec.behavior.{d}", behavior.get(d))
    elif kind == "ScaledObject":
        out += _scaled_object_errors(spec)
    elif kind == "NodePool":
        out += _node_pool_errors(spec)
    return out
