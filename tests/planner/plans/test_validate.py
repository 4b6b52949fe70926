"""Vendored-schema validation: broken manifests are rejected with the path to the bad field."""

from __future__ import annotations

import copy

import pytest

from planner.plans.exports.autoscalers import render_hpa, render_scaled_object
from planner.plans.exports.karpenter import render_node_pools
from planner.plans.exports.validate import (
    ManifestValidationError,
    openapi_to_jsonschema,
    validate_manifest,
    validate_yaml,
)


def errors_of(manifest) -> dict[str, str]:
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest(manifest)
    return {e.path: e.message for e in info.value.errors}


@pytest.fixture
def scaled_object(known_plan):
    return copy.deepcopy(render_scaled_object(known_plan[0]))


@pytest.fixture
def node_pool(known_plan):
    return copy.deepcopy(render_node_pools(known_plan[0])[0])


@pytest.fixture
def hpa(known_plan):
    return copy.deepcopy(render_hpa(known_plan[0]))


def test_valid_manifests_pass(scaled_object, node_pool, hpa):
    for m in (scaled_object, node_pool, hpa):
        assert validate_manifest(m) is m


def test_keda_trigger_metadata_must_be_strings(scaled_object):
    scaled_object["spec"]["triggers"][0]["metadata"]["threshold"] = 8
    errs = errors_of(scaled_object)
    assert "spec.triggers[0].metadata.threshold" in errs
    assert "not of type 'string'" in errs["spec.triggers[0].metadata.threshold"]


def test_keda_unknown_field_is_named(scaled_object):
    scaled_object["spec"]["minReplicas"] = 2  # HPA spelling, not KEDA's minReplicaCount
    errs = errors_of(scaled_object)
    assert "unknown field 'minReplicas'" in errs["spec.minReplicas"]


def test_keda_missing_required_and_wrong_type(scaled_object):
    del scaled_object["spec"]["scaleTargetRef"]["name"]
    scaled_object["spec"]["pollingInterval"] = "30s"
    errs = errors_of(scaled_object)
    assert "'name' is a required property" in errs["spec.scaleTargetRef"]
    assert "spec.pollingInterval" in errs


def test_keda_fallback_requires_both_fields(scaled_object):
    scaled_object["spec"]["fallback"] = {"replicas": 3}
    assert "failureThreshold" in errors_of(scaled_object)["spec.fallback"]


def test_keda_min_above_max_is_semantic_error(scaled_object):
    scaled_object["spec"]["minReplicaCount"] = 20
    assert "exceeds" in errors_of(scaled_object)["spec.minReplicaCount"]


def test_keda_behavior_window_over_an_hour(scaled_object):
    beh = scaled_object["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    beh["scaleDown"]["stabilizationWindowSeconds"] = 7200
    path = (
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds"
    )
    assert "0..3600" in errors_of(scaled_object)[path]


def test_nodepool_v1beta1_consolidation_policy_rejected(node_pool):
    node_pool["spec"]["disruption"]["consolidationPolicy"] = "WhenUnderutilized"
    errs = errors_of(node_pool)
    assert "is not one of" in errs["spec.disruption.consolidationPolicy"]


def test_nodepool_weight_bounds_and_node_class_group(node_pool):
    node_pool["spec"]["weight"] = 0
    del node_pool["spec"]["template"]["spec"]["nodeClassRef"]["group"]
    errs = errors_of(node_pool)
    assert "minimum of 1" in errs["spec.weight"]
    assert "'group' is a required property" in errs["spec.template.spec.nodeClassRef"]


def test_nodepool_limits_must_be_quantities_and_operator_enum(node_pool):
    node_pool["spec"]["limits"]["nvidia.com/gpu"] = "lots"
    node_pool["spec"]["template"]["spec"]["requirements"][1]["operator"] = "Equals"
    errs = errors_of(node_pool)
    assert any(p.startswith("spec.limits") for p in errs)
    assert "spec.template.spec.requirements[1].operator" in errs


def test_nodepool_consolidate_after_is_required(node_pool):
    del node_pool["spec"]["disruption"]["consolidateAfter"]
    assert "consolidateAfter" in errors_of(node_pool)["spec.disruption"]


def test_hpa_quantity_and_semantics(hpa):
    hpa["spec"]["metrics"][0]["external"]["target"]["averageValue"] = "ten"
    hpa["spec"]["minReplicas"] = 50
    hpa["spec"]["behavior"]["scaleUp"]["policies"][0]["periodSeconds"] = 3600
    hpa["spec"]["behavior"]["scaleUp"]["policies"][0]["type"] = "Nodes"
    errs = errors_of(hpa)
    assert "spec.metrics[0].external.target.averageValue" in errs
    assert "exceeds" in errs["spec.minReplicas"]
    assert "1..1800" in errs["spec.behavior.scaleUp.policies[0].periodSeconds"]
    assert "Pods or Percent" in errs["spec.behavior.scaleUp.policies[0].type"]


def test_hpa_int32_overflow_and_missing_max(hpa):
    hpa["spec"]["minReplicas"] = 2**31
    del hpa["spec"]["maxReplicas"]
    errs = errors_of(hpa)
    assert "spec.minReplicas" in errs
    assert "'maxReplicas' is a required property" in errs["spec"]


def test_metadata_name_rules(hpa, node_pool):
    hpa["metadata"]["name"] = "Chat_LLM"
    assert "DNS-1123" in errors_of(hpa)["metadata.name"]
    node_pool["metadata"]["labels"] = {"a": 1}
    assert "metadata.labels.a" in errors_of(node_pool)


def test_unsupported_kind_lists_supported(hpa):
    hpa["apiVersion"] = "autoscaling/v2beta2"
    errs = errors_of(hpa)
    assert "not exportable" in errs["apiVersion"] and "ScaledObject" in errs["apiVersion"]


def test_error_message_names_kind_name_and_source():
    text = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec: {maxReplicas: 0, scaleTargetRef: {kind: Deployment, name: web}}\n"
    with pytest.raises(ManifestValidationError) as info:
        validate_yaml(text, source="clusters/a/web.hpa.yaml")
    msg = str(info.value)
    assert "HorizontalPodAutoscaler 'web (clusters/a/web.hpa.yaml, document 1)'" in msg
    assert "spec.maxReplicas: must be >= 1" in msg


def test_not_yaml_is_reported():
    with pytest.raises(ManifestValidationError, match="not YAML"):
        validate_yaml("a: [1,", source="x.yaml")


def test_openapi_translation_of_kubernetes_extensions():
    node = {
        "type": "object",
        "properties": {
            "q": {"x-kubernetes-int-or-string": True},
            "free": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"a": {"type": "string"}},
            },
            "n": {"type": "integer", "format": "int32", "nullable": True},
        },
    }
    out = openapi_to_jsonschema(node)
    assert out["additionalProperties"] is False
    assert out["properties"]["q"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "additionalProperties" not in out["properties"]["free"]
    assert out["properties"]["n"]["type"] == ["integer", "null"]
    assert out["properties"]["n"]["maximum"] == 2**31 - 1


def test_keda_trigger_metadata_rules(scaled_object):
    trig = scaled_object["spec"]["triggers"]
    del trig[0]["metadata"]["query"]
    trig[0]["metadata"]["threshold"] = "eight"
    trig[1]["metadata"]["desiredReplicas"] = ""
    errs = errors_of(scaled_object)
    assert "required by the prometheus scaler" in errs["spec.triggers[0].metadata.query"]
    assert "'eight' is not a number" in errs["spec.triggers[0].metadata.threshold"]
    assert "required by the cron scaler" in errs["spec.triggers[1].metadata.desiredReplicas"]


def test_keda_rabbitmq_needs_a_host_and_fallback_needs_average_value(known_plan):
    so = copy.deepcopy(render_scaled_object(known_plan[1]))
    del so["spec"]["triggers"][0]["metadata"]["hostFromEnv"]
    so["spec"]["triggers"][0]["metricType"] = "Value"
    so["spec"]["fallback"] = {"failureThreshold": 3, "replicas": 2}
    errs = errors_of(so)
    assert "set one of host, hostFromEnv" in errs["spec.triggers[0].metadata"]
    assert "AverageValue" in errs["spec.fallback"]


def test_karpenter_cel_rules(node_pool):
    tmpl = node_pool["spec"]["template"]
    tmpl["metadata"]["labels"]["karpenter.sh/team"] = "ml"
    tmpl["metadata"]["labels"]["node.kubernetes.io/gpu"] = "yes"  # allowed sub-domain
    reqs = tmpl["spec"]["requirements"]
    reqs[0]["values"] = []
    reqs[1]["minValues"] = 3
    restricted = len(reqs)
    reqs.append({"key": "kubernetes.io/hostname", "operator": "Exists"})
    node_pool["spec"]["disruption"]["budgets"] = [{"nodes": "1", "schedule": "@daily"}]
    errs = errors_of(node_pool)
    assert (
        'domain "karpenter.sh" is restricted'
        in errs["spec.template.metadata.labels.karpenter.sh/team"]
    )
    assert "spec.template.metadata.labels.node.kubernetes.io/gpu" not in errs
    assert "need values" in errs["spec.template.spec.requirements[0].values"]
    assert "exceeds" in errs["spec.template.spec.requirements[1].minValues"]
    assert "restricted" in errs[f"spec.template.spec.requirements[{restricted}].key"]
    assert "duration" in errs["spec.disruption.budgets[0]"]
