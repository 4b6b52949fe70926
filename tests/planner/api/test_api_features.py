"""Anomalies, budgets, plans, recommendations and scenarios through the API, per role."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest

pytestmark = pytest.mark.django_db


# --- alerts ---------------------------------------------------------------------------------
@pytest.fixture
def anomaly():
    from planner.alerts.models import Anomaly

    return Anomaly.objects.create(
        series_key="cost:service=api-x",
        series_label="api-x",
        start=dt.date(2026, 9, 1),
        end=dt.date(2026, 9, 2),
        actual_usd=Decimal("900"),
        expected_usd=Decimal("300"),
        impact_usd=Decimal("600"),
        score=0.9,
    )


def test_analyst_acknowledges_an_anomaly_viewer_cannot(viewer_api, analyst_api, anomaly):
    url = f"/api/v1/anomalies/{anomaly.pk}/status/"
    assert viewer_api.post(url, {"status": "acknowledged"}, format="json").status_code == 403
    bad = analyst_api.post(url, {"status": "snoozed"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()
    resp = analyst_api.post(url, {"status": "acknowledged", "note": "known launch"}, format="json")
    assert resp.status_code == 200
    body = resp.json()
    assert (
        body["status"] == "acknowledged"
        and body["status_changed_by"] == "t-analyst"
        and body["note"] == "known launch"
    )
    listed = viewer_api.get(
        "/api/v1/anomalies/", {"status": "acknowledged", "page_size": 1000}
    ).json()
    assert anomaly.pk in [a["id"] for a in listed["results"]]
    assert {a["status"] for a in listed["results"]} == {"acknowledged"}


def test_budget_crud_and_status(viewer_api, analyst_api, demo_fleet):
    from planner.core.models import Service
    from tests.demo_costs import service_cost

    svc = Service.objects.get(slug="chat-assistant")
    body = {
        "name": "Chat monthly",
        "scope": "service",
        "period": "monthly",
        "amount_usd": "50000.00",
        "recipients": "finops@example.com",
    }
    assert (
        viewer_api.post("/api/v1/budgets/", {**body, "service": svc.pk}, format="json").status_code
        == 403
    )
    missing = analyst_api.post("/api/v1/budgets/", body, format="json")
    assert (
        missing.status_code == 400
        and "Required when the scope is service" in missing.json()["service"][0]
    )
    bad_mail = analyst_api.post(
        "/api/v1/budgets/", {**body, "service": svc.pk, "recipients": "nobody"}, format="json"
    )
    assert (
        bad_mail.status_code == 400 and "not an email address" in bad_mail.json()["recipients"][0]
    )
    zero = analyst_api.post(
        "/api/v1/budgets/", {**body, "service": svc.pk, "amount_usd": "0"}, format="json"
    )
    assert zero.status_code == 400
    created = analyst_api.post("/api/v1/budgets/", {**body, "service": svc.pk}, format="json")
    assert created.status_code == 201 and created.json()["created_by"] == "t-analyst"
    pk = created.json()["id"]
    assert viewer_api.get(f"/api/v1/budgets/{pk}/status/", {"date": "Sept"}).status_code == 400
    status = viewer_api.get(f"/api/v1/budgets/{pk}/status/", {"date": "2026-09-20"}).json()
    assert status["period_key"] == "2026-09"
    start, end = (
        dt.date.fromisoformat(status["period_start"]),
        dt.date.fromisoformat(status["as_of"]),
    )
    spend = float(service_cost(svc.slug, start, end))  # tagged plus its node pool's share
    assert status["spend_usd"] == pytest.approx(spend, rel=1e-6)
    assert status["spend_pct"] == pytest.approx(100 * spend / 50000, rel=1e-6)
    assert (
        analyst_api.patch(
            f"/api/v1/budgets/{pk}/", {"amount_usd": "60000"}, format="json"
        ).status_code
        == 200
    )
    assert analyst_api.delete(f"/api/v1/budgets/{pk}/").status_code == 204


# --- plans ----------------------------------------------------------------------------------
@pytest.fixture
def plan(analyst):
    from planner.core.seeding import ensure_fleet
    from planner.plans.demo import decision_from_deployment
    from planner.plans.services import create_plan_from_decisions

    deps = list(ensure_fleet().values())[:2]
    return create_plan_from_decisions(
        [decision_from_deployment(d) for d in deps], name="API plan", created_by=analyst
    )


def test_plan_approval_matrix_and_export(viewer_api, analyst_api, admin_api, plan):
    url = f"/api/v1/plans/{plan.pk}/"
    assert viewer_api.get(url).json()["status"] == "draft"
    assert viewer_api.post(url + "approve/").status_code == 403
    assert analyst_api.post(url + "mark-applied/").status_code == 403
    resp = analyst_api.post(url + "approve/")
    assert (
        resp.status_code == 200
        and resp.json()["status"] == "approved"
        and resp.json()["approved_by"] == "t-analyst"
    )
    again = analyst_api.post(url + "approve/")
    assert again.status_code == 409 and "only a draft can be approved" in again.json()["detail"]
    assert admin_api.post(url + "mark-applied/").json()["status"] == "applied"
    exported = viewer_api.get(url + "export/", {"autoscaler": "hpa"})
    assert exported.status_code == 200 and exported["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    files = viewer_api.get(url + "files/", {"autoscaler": "hpa"}).json()
    assert sorted(names) == sorted(files) and len(files) >= 2
    assert viewer_api.get(url + "files/", {"autoscaler": "cron"}).status_code == 400


# --- what-if --------------------------------------------------------------------------------
def test_recommendation_decide(viewer_api, analyst_api, demo_fleet):
    pytest.importorskip("planner.whatif.models", reason="the what-if app is not installed")
    from planner.core.models import Service
    from planner.whatif.models import Recommendation

    rec = Recommendation.objects.create(
        kind="spot-share",
        service=Service.objects.first(),
        title="More spot",
        monthly_savings_usd=Decimal("1200"),
        confidence=0.8,
        slo_risk="low",
        evidence_start="2026-09-01T00:00:00Z",
        evidence_end="2026-09-08T00:00:00Z",
    )
    url = f"/api/v1/recommendations/{rec.pk}/decide/"
    assert (
        viewer_api.post(url, {"status": "accepted", "reason": "cheaper"}, format="json").status_code
        == 403
    )
    short = analyst_api.post(url, {"status": "accepted", "reason": "x"}, format="json")
    assert short.status_code == 400 and "reason" in short.json()
    resp = analyst_api.post(url, {"status": "dismissed", "reason": "SLO too tight"}, format="json")
    assert (
        resp.status_code == 200
        and resp.json()["status"] == "dismissed"
        and resp.json()["decided_by"] == "t-analyst"
    )


def test_scenario_create_validates_like_the_form(analyst_api, viewer_api, demo_fleet):
    pytest.importorskip("planner.whatif.models", reason="the what-if app is not installed")
    body = {
        "services": ["embeddings"],
        "window_days": 1,
        "batch_size": 1,
        "quantisation": "fp16",
        "cache_hit_rate": 0.0,
        "warm_pool": 0,
        "commitment_term": "1y",
    }
    assert viewer_api.post("/api/v1/scenarios/", body, format="json").status_code == 403
    bad = analyst_api.post(
        "/api/v1/scenarios/", {**body, "min_replicas": 5, "max_replicas": 2}, format="json"
    )
    assert bad.status_code == 400 and "at least the minimum" in bad.json()["max_replicas"][0]
    unknown = analyst_api.post("/api/v1/scenarios/", {**body, "services": ["nope"]}, format="json")
    assert unknown.status_code == 400 and "services" in unknown.json()


def test_scenario_runs_and_returns_a_result(
    analyst_api, demo_fleet, django_capture_on_commit_callbacks
):
    pytest.importorskip("planner.whatif.models", reason="the what-if app is not installed")
    body = {
        "services": ["embeddings"],
        "window_days": 1,
        "batch_size": 2,
        "quantisation": "fp16",
        "cache_hit_rate": 0.2,
        "warm_pool": 0,
        "commitment_term": "1y",
    }
    with django_capture_on_commit_callbacks(execute=True):
        resp = analyst_api.post("/api/v1/scenarios/", body, format="json")
    assert resp.status_code == 202, resp.content
    pk = resp.json()["id"]
    detail = analyst_api.get(f"/api/v1/scenarios/{pk}/").json()
    assert detail["status"] == "succeeded", detail
    result = analyst_api.get(f"/api/v1/scenarios/{pk}/result/").json()
    svc = result["services"]["embeddings"]
    assert result["totals"]["scenario"]["monthly_cost_usd"] == pytest.approx(
        svc["scenario"]["monthly_cost_usd"], abs=0.01
    )
    assert detail["totals"] == result["totals"]
    assert analyst_api.post(f"/api/v1/scenarios/{pk}/run/").status_code == 409
