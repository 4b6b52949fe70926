"""Validate rendered manifests against the vendored upstream schemas.

Every manifest Headroom offers (download, GitOps bundle, git commit) passes
through :func:`validate_manifest` first. Schemas live in
``planner/plans/schemas/`` (see its README for provenance):

* KEDA ``ScaledObject`` keda.sh/v1alpha1 — the CRD's ``openAPIV3Schema``;
* Karpenter ``NodePool`` karpenter.sh/v1 — the CRD's ``openAPIV3Schema``;
* ``HorizontalPodAutoscaler`` autoscaling/v2 — Kubernetes' OpenAPI v3 document.

The OpenAPI dialect is translated to JSON Schema (draft 2020-12) the way the
API server reads it:

* ``x-kubernetes-int-or-string`` → integer or string;
* ``x-kubernetes-preserve-unknown-fields`` → unknown fields allowed there;
* ``nullable`` → ``null`` allowed;
* ``format: int32``/``int64`` → numeric bounds;
* every other object with declared ``properties`` rejects unknown fields, as
  ``kubectl apply`` does by default (``--validate=strict``).

``metadata`` of every kind is checked against Kubernetes' ``ObjectMeta`` plus
the API server's name rules (DNS-1123). CEL rules (``x-kubernetes-validations``)
are evaluated by re-implementing, in :mod:`.admission`, the ones Headroom's
output can hit, together with the checks the API server and KEDA's admission
webhook make in code (HPA behaviour bounds, min <= max, trigger metadata).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from planner.plans.errors import ManifestValidationError

from .admission import FieldError, admission_errors

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
QUANTITY = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
HPA_REF = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def openapi_to_jsonschema(node: Any, ref_prefix: str = "") -> Any:
    """Translate one OpenAPI v3 (Kubernetes dialect) schema node to JSON Schema."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(n, ref_prefix) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: openapi_to_jsonschema(v, ref_prefix) for k, v in value.items()}
        elif key == "$ref" and ref_prefix:
            out[key] = ref_prefix + value.rsplit("/", 1)[-1]
        elif key.startswith("x-kubernetes-") or key in ("default", "description", "example"):
            continue
        elif isinstance(value, dict | list):
            out[key] = openapi_to_jsonschema(value, ref_prefix)
        elif key == "nullable":
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("format") in ("int32", "int64") and node.get("type") == "integer":
        lo, hi = INT32 if node["format"] == "int32" else INT64
        out.setdefault("minimum", lo)
        out.setdefault("maximum", hi)
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


def _meta_schema(defs_prefix: str) -> dict[str, Any]:
    return {"$ref": f"{defs_prefix}{META_REF}"}


@cache
def _k8s_defs() -> dict[str, Any]:
    """Kubernetes' definitions (HPA + ObjectMeta closure) as JSON Schema ``$defs``."""
    doc = json.loads((SCHEMA_DIR / "autoscaling_v2_hpa_openapi.json").read_text())
    defs = openapi_to_jsonschema(doc["components"]["schemas"], ref_prefix="#/$defs/")
    # A Quantity string must parse as one (the API server rejects e.g. "ten").
    defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {
        "anyOf": [{"type": "string", "pattern": QUANTITY}, {"type": "number"}]
    }
    return defs


def _crd_schema(filename: str, version: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((SCHEMA_DIR / filename).read_text()) if d]
    crd = docs[0]
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            schema = openapi_to_jsonschema(copy.deepcopy(v["schema"]["openAPIV3Schema"]))
            schema["properties"]["metadata"] = _meta_schema("#/$defs/")
            schema["$defs"] = _k8s_defs()
            schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
            return schema
    raise LookupError(f"{filename} has no version {version}")


@cache
def _validator(api_version: str, kind: str) -> Draft202012Validator:
    if (api_version, kind) == ("keda.sh/v1alpha1", "ScaledObject"):
        schema = _crd_schema("keda.sh_scaledobjects.yaml", "v1alpha1")
    elif (api_version, kind) == ("karpenter.sh/v1", "NodePool"):
        schema = _crd_schema("karpenter.sh_nodepools.yaml", "v1")
    elif (api_version, kind) == ("autoscaling/v2", "HorizontalPodAutoscaler"):
        schema = {
            "$ref": f"#/$defs/{HPA_REF}",
            "$defs": _k8s_defs(),
            "required": ["apiVersion", "kind", "metadata", "spec"],
        }
    else:
        raise LookupError(f"no vendored schema for {kind} {api_version}")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


SUPPORTED_KINDS = (
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("karpenter.sh/v1", "NodePool"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
)


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _schema_errors(manifest: dict[str, Any], validator: Draft202012Validator) -> list[FieldError]:
    errors: list[FieldError] = []
    for err in sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.path))):
        # Point at the deepest failing branch of anyOf/allOf (the $ref wrappers).
        leaf = err
        while leaf.context:
            leaf = min(leaf.context, key=lambda e: len(e.path) * -1)
        path = _path(leaf.absolute_path)
        msg = leaf.message
        if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
            allowed = set(leaf.schema.get("properties", {}))
            extra = sorted(set(leaf.instance) - allowed)
            if extra:
                path = f"{path}.{extra[0]}" if path else extra[0]
                msg = f"unknown field {extra[0]!r} (not in the schema; check spelling)"
        errors.append(FieldError(path, msg))
    return errors


def validate_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Return ``manifest`` unchanged if valid; raise ManifestValidationError otherwise."""
    if not isinstance(manifest, dict):
        raise ManifestValidationError("?", "?", [FieldError("", "a manifest is a mapping")])
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    name = str((manifest.get("metadata") or {}).get("name", "?"))
    try:
        validator = _validator(str(api_version), str(kind))
    except LookupError:
        supported = ", ".join(f"{k} {v}" for v, k in SUPPORTED_KINDS)
        raise ManifestValidationError(
            str(kind),
            name,
            [FieldError("apiVersion", f"{kind} {api_version} is not exportable; use {supported}")],
        ) from None
    errors = _schema_errors(manifest, validator) + admission_errors(manifest)
    if errors:
        raise ManifestValidationError(str(kind), name, errors)
    return manifest


def validate_yaml(text: str, source: str = "<yaml>") -> list[dict[str, Any]]:
    """Validate every document of a multi-document YAML text; errors name ``source``."""
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestValidationError("?", source, [FieldError("", f"not YAML: {exc}")]) from exc
    for i, doc in enumerate(docs):
        try:
            validate_manifest(doc)
        except ManifestValidationError as exc:
            raise ManifestValidationError(
                exc.kind, f"{exc.name} ({source}, document {i + 1})", exc.errors
            ) from None
    return docs
