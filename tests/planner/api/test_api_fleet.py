"""The fleet and cost endpoints: token auth, filters checked against direct ORM sums, pagination,
clear 400/409 errors."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum
from rest_framework.test import APIClient

from planner.billing.models import BillingPeriodLoad, CostRollup
from planner.core.models import CloudAccount, Deployment, Service
from tests.demo_costs import pool_cost, service_cost

pytestmark = pytest.mark.django_db
MICRO = Decimal("0.000001")


def q(x) -> Decimal:
    """Money to 6 places (SQLite sums decimals as floats; PostgreSQL exactly)."""
    return Decimal(x).quantize(MICRO)


def test_issue_token_command_gives_a_working_token(viewer):
    out = io.StringIO()
    call_command("issue_token", viewer.username, stdout=out)
    key = out.getvalue().strip()
    assert len(key) == 40
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/services/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {key[:-1]}x")
    assert client.get("/api/v1/services/").status_code in (401, 403)
    out2 = io.StringIO()
    call_command("issue_token", viewer.username, "--rotate", stdout=out2)
    assert out2.getvalue().strip() != key


def test_issue_token_refuses_unknown_user_and_can_create_one():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user 'ghost'"):
        call_command("issue_token", "ghost", stdout=io.StringIO())
    out = io.StringIO()
    call_command("issue_token", "robot", "--create-user", "analyst", stdout=out)
    from planner.core.roles import user_role

    robot = Service._meta.apps.get_model("auth", "User").objects.get(username="robot")
    assert user_role(robot) == "analyst" and not robot.has_usable_password()


def test_anonymous_api_gets_json_denial_not_a_login_redirect(anon_api):
    resp = anon_api.get("/api/v1/services/")
    assert resp.status_code in (401, 403)
    assert resp["Content-Type"].startswith("application/json")
    assert "credentials" in resp.json()["detail"].lower()


def test_session_auth_works_for_the_browser(viewer_client):
    resp = viewer_client.get("/api/v1/accounts/")
    assert resp.status_code == 200 and "results" in resp.json()


def test_cost_rollups_filter_by_range_and_dimensions(viewer_api, demo_fleet):
    params = {"start": "2026-09-10", "end": "2026-09-19", "provider": "AWS", "page_size": 1000}
    rows, url = [], "/api/v1/costs/"
    while url:
        body = viewer_api.get(url, params if url == "/api/v1/costs/" else None).json()
        rows += body["results"]
        url = body["next"]
    qs = CostRollup.objects.filter(date__range=("2026-09-10", "2026-09-19"), provider="AWS")
    assert len(rows) == qs.count() == body["count"] > 0
    assert {r["provider"] for r in rows} == {"AWS"}
    assert (
        min(r["date"] for r in rows) >= "2026-09-10"
        and max(r["date"] for r in rows) <= "2026-09-19"
    )
    assert sum(Decimal(r["effective_cost"]) for r in rows) == q(
        qs.aggregate(v=Sum("effective_cost"))["v"]
    )


def test_cost_pagination_is_stable_and_complete(viewer_api, demo_fleet):
    first = viewer_api.get(
        "/api/v1/costs/", {"page_size": 7, "start": "2026-09-01", "end": "2026-09-02"}
    ).json()
    second = viewer_api.get(first["next"]).json()
    assert len(first["results"]) == 7 and first["previous"] is None
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert len(set(ids)) == len(ids)
    assert viewer_api.get("/api/v1/costs/", {"page": 10_000}).status_code == 404


def test_summary_by_service_matches_direct_sums(viewer_api, demo_fleet):
    resp = viewer_api.get(
        "/api/v1/costs/summary/",
        {"group_by": "service", "start": "2026-09-01", "end": "2026-09-30"},
    )
    assert resp.status_code == 200
    got = {r["key"]: Decimal(r["effective_cost"]) for r in resp.json()}
    qs = CostRollup.objects.filter(date__range=("2026-09-01", "2026-09-30"))
    moved = Decimal(0)  # untagged spare-node cost each service's pool gives it
    for svc in Service.objects.all():
        expected = service_cost(svc.slug, "2026-09-01", "2026-09-30")
        assert got.get(svc.slug) == q(expected)
        moved += pool_cost(svc.slug, "2026-09-01", "2026-09-30")
    unallocated = qs.filter(service__isnull=True).aggregate(v=Sum("effective_cost"))["v"] - moved
    assert (
        got.get(None) == q(unallocated) and unallocated > 0
    )  # unallocated is shown, never dropped
    assert sum(got.values()) == q(qs.aggregate(v=Sum("effective_cost"))["v"])
    values = list(got.values())
    assert values == sorted(values, reverse=True)


def test_unallocated_filter(viewer_api, demo_fleet):
    body = viewer_api.get("/api/v1/costs/", {"service": "unallocated", "page_size": 5}).json()
    assert body["count"] == CostRollup.objects.filter(service__isnull=True).count() > 0
    assert all(r["service"] is None for r in body["results"])


@pytest.mark.parametrize(
    "params,field",
    [
        ({"start": "2026-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2026-09-10", "end": "2026-09-01"}, "end"),
        ({"account": "x"}, "account"),
    ],
)
def test_bad_filters_are_400_naming_the_field(viewer_api, params, field):
    resp = viewer_api.get("/api/v1/costs/", params)
    assert resp.status_code == 400 and field in resp.json()


def test_bad_group_by_is_400(viewer_api):
    resp = viewer_api.get("/api/v1/costs/summary/", {"group_by": "colour"})
    assert resp.status_code == 400 and "unknown dimension 'colour'" in resp.json()["group_by"]


def test_period_loads_list_what_the_loader_stored(viewer_api, demo_fleet):
    body = viewer_api.get("/api/v1/period-loads/", {"page_size": 1000}).json()
    assert body["count"] == BillingPeriodLoad.objects.count() > 0
    for r in body["results"]:
        stored = CostRollup.objects.filter(
            account_id=r["account"], billing_period_start=r["billing_period_start"]
        )
        # the period total is rounded once; each stored rollup is rounded to 6 places separately
        tolerance = Decimal("0.0000005") * stored.count() + MICRO
        assert (
            abs(Decimal(r["billed_cost"]) - stored.aggregate(v=Sum("billed_cost"))["v"])
            <= tolerance
        )


def test_analyst_manages_services_and_deployments(analyst_api, demo_fleet):
    resp = analyst_api.post(
        "/api/v1/services/",
        {
            "slug": "asr",
            "name": "ASR",
            "modality": "speech_to_text",
            "unit_of_work": "audio-hour",
            "latency_slo_p95_ms": 800,
        },
        format="json",
    )
    assert resp.status_code == 201 and resp.json()["tag_value"] == "asr"
    acct = CloudAccount.objects.first()
    dep = {
        "service": "asr",
        "account": acct.pk,
        "name": "asr-us-east-1",
        "provider": "aws",
        "region": "us-east-1",
        "instance_type": "g5.xlarge",
        "gpu_model": "A10G",
        "throughput_rps_per_replica": 4.0,
        "min_replicas": 5,
        "max_replicas": 2,
    }
    bad = analyst_api.post("/api/v1/deployments/", dep, format="json")
    assert bad.status_code == 400 and "below min_replicas" in bad.json()["max_replicas"][0]
    ok = analyst_api.post("/api/v1/deployments/", {**dep, "max_replicas": 8}, format="json")
    assert ok.status_code == 201
    assert Deployment.objects.get(name="asr-us-east-1").service.slug == "asr"
    assert (
        analyst_api.patch(
            "/api/v1/services/asr/", {"latency_slo_p95_ms": 900}, format="json"
        ).status_code
        == 200
    )
    assert Service.objects.get(slug="asr").latency_slo_p95_ms == 900


def test_accounts_are_admin_only_and_refuse_secrets(analyst_api, admin_api):
    body = {
        "provider": "aws",
        "account_id": "123456789012",
        "name": "Prod",
        "credential_ref": "AKIAIOSFODNN7EXAMPLE/wJalr",
    }
    assert analyst_api.post("/api/v1/accounts/", body, format="json").status_code == 403
    resp = admin_api.post("/api/v1/accounts/", body, format="json")
    assert resp.status_code == 400 and "never put a secret here" in resp.json()["credential_ref"][0]
    resp = admin_api.post(
        "/api/v1/accounts/",
        {**body, "credential_ref": "HEADROOM_CRED_AWS_PROFILE_BILLING"},
        format="json",
    )
    assert resp.status_code == 201
    dup = admin_api.post(
        "/api/v1/accounts/", {**body, "credential_ref": "default-chain"}, format="json"
    )
    assert dup.status_code == 400


def test_deleting_an_account_in_use_is_a_409_not_a_crash(admin_api, demo_fleet):
    acct = Deployment.objects.exclude(account=None).first().account
    before = CloudAccount.objects.count()
    resp = admin_api.delete(f"/api/v1/accounts/{acct.pk}/")
    assert resp.status_code == 409 and "still used by" in resp.json()["detail"]
    assert CloudAccount.objects.count() == before


def test_session_writes_need_csrf_but_token_writes_do_not(analyst, analyst_api):
    from django.test import Client

    body = {
        "slug": "csrf-check",
        "name": "C",
        "modality": "embeddings",
        "unit_of_work": "1k tokens",
        "latency_slo_p95_ms": 100,
    }
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(analyst)
    resp = browser.post("/api/v1/services/", body, content_type="application/json")
    assert resp.status_code == 403 and "CSRF" in resp.json()["detail"]
    assert not Service.objects.filter(slug="csrf-check").exists()
    assert analyst_api.post("/api/v1/services/", body, format="json").status_code == 201
