"""The vendored schemas are what the provenance README says, and say what we rely on."""

from __future__ import annotations

import hashlib
import json
import re

import yaml

from planner.plans.exports.validate import SCHEMA_DIR

README = (SCHEMA_DIR / "README.md").read_text()


def test_checksums_match_readme():
    rows = dict(re.findall(r"\| `([^`]+)` \| `([0-9a-f]{64})` \|", README))
    assert set(rows) == {
        "keda.sh_scaledobjects.yaml",
        "karpenter.sh_nodepools.yaml",
        "autoscaling_v2_hpa_openapi.json",
        "LICENSE",
    }
    for name, digest in rows.items():
        assert hashlib.sha256((SCHEMA_DIR / name).read_bytes()).hexdigest() == digest, name


def test_provenance_names_repo_path_and_commit():
    for repo, commit in [
        ("kedacore/keda", "756b2de75bd06e913ea34a9fdf7bcf3100a460ba"),
        ("kubernetes-sigs/karpenter", "c38cd52f99180383d7afb73cbd44df2088fcaa11"),
        ("kubernetes/kubernetes", "0209a4cb57a359609b96779f044bcdff8e8df70d"),
    ]:
        assert repo in README and commit in README
    assert "Apache License" in (SCHEMA_DIR / "LICENSE").read_text()


def test_schemas_declare_the_versions_we_export():
    keda = next(
        d for d in yaml.safe_load_all((SCHEMA_DIR / "keda.sh_scaledobjects.yaml").read_text()) if d
    )
    assert keda["spec"]["group"] == "keda.sh"
    assert [v["name"] for v in keda["spec"]["versions"]] == ["v1alpha1"]
    karp = next(
        d for d in yaml.safe_load_all((SCHEMA_DIR / "karpenter.sh_nodepools.yaml").read_text()) if d
    )
    assert [v["name"] for v in karp["spec"]["versions"]] == ["v1"]
    pol = karp["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]
    assert pol["disruption"]["properties"]["consolidationPolicy"]["enum"] == [
        "WhenEmpty",
        "WhenEmptyOrUnderutilized",
    ]
    hpa = json.loads((SCHEMA_DIR / "autoscaling_v2_hpa_openapi.json").read_text())["components"][
        "schemas"
    ]
    refs = set(re.findall(r"#/components/schemas/([\w.]+)", json.dumps(hpa)))
    assert refs <= set(hpa)  # the extraction is closed under $ref
    assert hpa["io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"][
        "x-kubernetes-group-version-kind"
    ] == [{"group": "autoscaling", "kind": "HorizontalPodAutoscaler", "version": "v2"}]
