"""Drift check hardening (issue 13, item 3): analysts only, a body-size cap, and YAML anchors and
aliases refused before anything is expanded, so a "billion laughs" document is a quick 400."""

from __future__ import annotations

import tracemalloc

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from planner.plans import services
from planner.plans.models import PlanEvent
from planner.plans.services import PlanError, create_plan_from_decisions

pytestmark = pytest.mark.django_db

NODEPOOL = (
    "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: chat-llm-spot}\n"
    "spec: {weight: 50}\n"
)


def alias_bomb(levels: int = 9) -> str:
    """The classic: each level is a list of ten aliases to the one before (10**levels leaves)."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    body = "\n".join("  " + line for line in lines)
    return f"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {{name: chat-llm-spot}}\nspec:\n{body}\n"


@pytest.fixture
def plan(fleet_services, known_plan):
    return create_plan_from_decisions(known_plan, name="Q4 plan")


def test_drift_bomb_is_valid_yaml_that_would_expand():
    """The bomb is a real one: PyYAML builds it (cheaply, by reference), its leaves are 10**9."""
    doc = yaml.safe_load(alias_bomb(3))
    assert len(doc["spec"]["a3"]) == 10 and len(doc["spec"]["a3"][0]) == 10
    assert len(alias_bomb()) < 1000


def test_drift_bomb_gets_400_before_expansion(analyst_client, plan):
    response = analyst_client.post(f"/plans/{plan.pk}/drift/", {"reported": alias_bomb()})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Drift check refused: the reported manifests use a YAML anchor or alias (line 5)" in page
    assert not plan.events.filter(kind=PlanEvent.Kind.DRIFT_CHECK).exists()


def test_drift_bomb_refused_without_building_it(plan):
    """The service refuses the bomb from the event stream: little memory, and no event stored
    (unfixed, 7 levels took 2.2 s and +110 MB in flatten; each further level costs x10)."""
    tracemalloc.start()
    try:
        with pytest.raises(PlanError, match="anchor or alias"):
            services.manifest_drift(plan, alias_bomb(12))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert not plan.events.filter(kind=PlanEvent.Kind.DRIFT_CHECK).exists()


def test_drift_bomb_as_uploaded_file_gets_400(analyst_client, plan):
    upload = SimpleUploadedFile("bomb.yaml", alias_bomb().encode(), "application/yaml")
    response = analyst_client.post(f"/plans/{plan.pk}/drift/", {"reported_file": upload})
    assert response.status_code == 400
    assert not plan.events.filter(kind=PlanEvent.Kind.DRIFT_CHECK).exists()


def test_drift_bomb_deep_nesting_refused():
    with pytest.raises(PlanError, match="nest deeper than 64 levels"):
        services.load_reported_manifests("a: " + "[" * 10000 + "]" * 10000)


def test_drift_bomb_lone_anchor_refused_and_scalars_refused():
    with pytest.raises(PlanError, match="anchor or alias"):
        services.load_reported_manifests("kind: NodePool\nspec: &s {weight: 5}\n")
    with pytest.raises(PlanError, match="document 1 .* is a list"):
        services.load_reported_manifests("- 1\n- 2\n")


def test_drift_bomb_body_over_the_cap_gets_400(analyst_client, plan, settings):
    settings.DRIFT_MAX_BYTES = 4096
    big = NODEPOOL + "".join(f"# padding {i:06d}\n" for i in range(400))
    assert len(big) > 4096
    response = analyst_client.post(f"/plans/{plan.pk}/drift/", {"reported": big})
    assert response.status_code == 400
    assert "larger than the 4 KiB limit" in response.content.decode()
    upload = SimpleUploadedFile("big.yaml", big.encode(), "application/yaml")
    response = analyst_client.post(f"/plans/{plan.pk}/drift/", {"reported_file": upload})
    assert response.status_code == 400
    assert not plan.events.exists() or not plan.events.filter(kind="drift_check").exists()


def test_drift_bomb_viewer_may_not_write_a_drift_event(viewer_client, plan):
    response = viewer_client.post(f"/plans/{plan.pk}/drift/", {"reported": NODEPOOL})
    assert response.status_code == 403
    assert not plan.events.filter(kind=PlanEvent.Kind.DRIFT_CHECK).exists()
    page = viewer_client.get(f"/plans/{plan.pk}/").content.decode()
    assert "Compare with the plan" not in page  # no form for a viewer


def test_drift_bomb_plain_kubectl_output_still_checked(analyst_client, plan):
    page = analyst_client.post(
        f"/plans/{plan.pk}/drift/", {"reported": NODEPOOL}, follow=True
    ).content.decode()
    assert "Cluster drift check:" in page
    assert "<code>spec.weight</code></td><td>50</td><td>100</td>" in page
