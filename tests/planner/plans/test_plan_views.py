"""Plan pages through the Django test client: roles, approval, exports, AWS apply, tokens, drift."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.test import Client

from planner.plans.exports.validate import validate_yaml
from planner.plans.models import ClusterToken, Plan, PlanStatus
from planner.plans.services import approve_plan, create_plan_from_decisions

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(fleet_services, known_plan):
    return create_plan_from_decisions(known_plan, name="Q4 plan")


def test_every_page_requires_login(client, plan):
    for url in ("/plans/", f"/plans/{plan.pk}/", f"/plans/{plan.pk}/export.zip", "/plans/tokens/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_viewer_reads_list_and_detail(viewer_client, plan):
    page = viewer_client.get("/plans/").content.decode()
    assert "v1" in page and "Q4 plan" in page and "82,625.50" in page
    detail = viewer_client.get(f"/plans/{plan.pk}/").content.decode()
    assert "chat-llm" in detail and "p5.48xlarge, p4d.24xlarge" in detail
    assert "Approve</button>" not in detail  # viewers get no approve button
    assert "clusters/prod-use1/karpenter/chat-llm-spot.yaml" in detail


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_viewer_cannot_approve_analyst_can(viewer, analyst, plan):
    assert as_user(viewer).post(f"/plans/{plan.pk}/approve/").status_code == 403
    response = as_user(analyst).post(f"/plans/{plan.pk}/approve/")
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED and plan.approved_by.username == "t-analyst"


def test_detail_shows_diff_against_applied(admin_client_, analyst, plan, known_plan):
    approve_plan(plan, analyst)
    admin_client_.post(f"/plans/{plan.pk}/mark-applied/")
    chat = known_plan[0]
    changed = chat.__class__(
        **{**chat.__dict__, "cooldown_seconds": 900, "expected_monthly_cost_usd": 60000.0}
    )
    newer = create_plan_from_decisions([changed, *known_plan[1:]], name="longer cooldown")
    page = admin_client_.get(f"/plans/{newer.pk}/").content.decode()
    assert "<code>cooldown_seconds</code></td><td>600</td><td>900</td>" in page
    assert "-1,250.00" in page  # 60000 - 61250


def test_zip_export_contains_valid_manifests(viewer_client, plan):
    response = viewer_client.get(f"/plans/{plan.pk}/export.zip?autoscaler=hpa")
    assert response["Content-Type"] == "application/zip"
    assert 'filename="headroom-plan-v1.zip"' in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        names = zf.namelist()
        assert "clusters/prod-use1/namespaces/inference/chat-llm-vllm.hpa.yaml" in names
        for name in names:
            if name.endswith(".yaml"):
                validate_yaml(zf.read(name).decode(), source=name)
        assert "Headroom plan v1: Q4 plan (Draft)" in zf.read("CHANGES.md").decode()


def test_single_manifest_download_and_live_trigger(viewer_client, plan):
    path = "clusters/prod-use1/namespaces/inference/chat-llm-vllm.scaledobject.yaml"
    response = viewer_client.get(f"/plans/{plan.pk}/files/{path}?live=1")
    assert response.status_code == 200
    (doc,) = validate_yaml(response.content.decode(), source=path)
    live = doc["spec"]["triggers"][-1]
    assert live["metadata"]["url"] == "http://testserver/api/keda/targets/chat-llm"
    assert viewer_client.get(f"/plans/{plan.pk}/files/nope.yaml").status_code == 404
    assert viewer_client.get(f"/plans/{plan.pk}/export.zip?autoscaler=vpa").status_code == 404


def test_aws_apply_is_admin_only(admin_client_, analyst, plan, aws_env):
    approve_plan(plan, analyst)
    assert as_user(analyst).post(f"/plans/{plan.pk}/aws/apply/").status_code == 403
    response = admin_client_.post(f"/plans/{plan.pk}/aws/apply/", follow=True)
    assert "Applied plan v1 to AWS" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPLIED
    targets = aws_env.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert [(t["ResourceId"], t["MaxCapacity"]) for t in targets] == [
        ("service/media/sdxl-worker", 30)
    ]
    page = admin_client_.post(f"/plans/{plan.pk}/aws/drift/", follow=True).content.decode()
    assert "AWS drift check: 0 difference(s)" in page and "No drift" in page


def test_aws_apply_of_draft_shows_error(admin_client_, plan):
    page = admin_client_.post(f"/plans/{plan.pk}/aws/apply/", follow=True).content.decode()
    assert "approve it before applying" in page


def test_manifest_drift_form(analyst_client, plan):
    report = "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: chat-llm-spot}\nspec: {weight: 50}\n"
    page = analyst_client.post(
        f"/plans/{plan.pk}/drift/", {"reported": report}, follow=True
    ).content.decode()
    assert "Cluster drift check:" in page
    assert "<code>spec.weight</code></td><td>50</td><td>100</td>" in page


def test_token_shown_once_and_only_hash_stored(admin_client_, viewer):
    assert as_user(viewer).post("/plans/tokens/new/", {"cluster": "prod-use1"}).status_code == 403
    response = admin_client_.post("/plans/tokens/new/", {"cluster": "prod-use1", "name": "keda"})
    page = response.content.decode()
    row = ClusterToken.objects.get()
    start = page.index('<code id="token-value">') + len('<code id="token-value">')
    raw = page[start : page.index("</code>", start)]
    assert raw.startswith("hdrm_") and len(raw) > 40
    assert row.token_hash != raw and raw not in str(list(ClusterToken.objects.values()))
    assert ClusterToken.authenticate(raw) == row
    assert raw not in admin_client_.get("/plans/tokens/").content.decode()
    admin_client_.post(f"/plans/tokens/{row.pk}/revoke/")
    assert ClusterToken.authenticate(raw) is None


def test_plan_list_empty_state(viewer_client):
    assert "No plans yet" in viewer_client.get("/plans/").content.decode()
    assert Plan.objects.count() == 0


def test_detail_explains_a_plan_that_cannot_be_exported(viewer_client, plan):
    # e.g. edited in the Django admin into an inconsistent state
    plan.decisions.filter(service__slug="chat-llm").update(max_replicas=1)
    page = viewer_client.get(f"/plans/{plan.pk}/").content.decode()
    assert "cannot be exported until it is fixed" in page
    assert "decision for service &#x27;chat-llm&#x27;: max_replicas" in page
