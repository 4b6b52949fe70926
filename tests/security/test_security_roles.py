"""The role matrix over the API: every endpoint × viewer/analyst/admin, and the API's write roles
cross-checked against the UI's model permissions (planner.core.roles)."""

from __future__ import annotations

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from planner.api.urls import router
from planner.core.roles import ADMIN, ANALYST, ANALYST_CHANGE_MODELS, VIEWER
from tests.factories import make_account, make_deployment, make_service

pytestmark = pytest.mark.django_db
RANK = {VIEWER: 1, ANALYST: 2, ADMIN: 3}


def _client(user) -> APIClient:
    from rest_framework.authtoken.models import Token

    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return c


def test_api_write_roles_match_the_ui_model_permissions():
    """A viewset whose model analysts may change in the UI needs the analyst role to write;
    every other model is admin-only to change (closed by default)."""
    for prefix, viewset, _basename in router.registry:
        model = viewset.queryset.model
        key = f"{model._meta.app_label}.{model._meta.model_name}"
        writes = {"create", "update", "partial_update", "destroy"} & set(dir(viewset))
        if not writes:
            continue
        expected = ANALYST if key in ANALYST_CHANGE_MODELS else ADMIN
        assert viewset.write_role == expected, (
            f"{prefix}: write role {viewset.write_role}, UI says {expected}"
        )


def test_every_list_endpoint_reads_for_every_role(viewer, analyst, admin_user):
    for prefix, _viewset, _basename in router.registry:
        for user in (viewer, analyst, admin_user):
            resp = _client(user).get(f"/api/v1/{prefix}/")
            assert resp.status_code == 200, (prefix, user.username, resp.status_code)


def _cases():
    """(name, minimum role, request builder). The builder gets a fresh object set per role."""
    cases = [
        (
            "create service",
            ANALYST,
            lambda o, n: (
                "post",
                "/api/v1/services/",
                {
                    "slug": f"svc-{n}",
                    "name": "S",
                    "modality": "embeddings",
                    "unit_of_work": "1k tokens",
                    "latency_slo_p95_ms": 100,
                },
            ),
        ),
        (
            "update service",
            ANALYST,
            lambda o, n: ("patch", f"/api/v1/services/{o['service'].slug}/", {"team": n}),
        ),
        (
            "delete deployment",
            ANALYST,
            lambda o, n: ("delete", f"/api/v1/deployments/{o['deployment'].pk}/", None),
        ),
        (
            "create account",
            ADMIN,
            lambda o, n: (
                "post",
                "/api/v1/accounts/",
                {"provider": "gcp", "account_id": f"acct-{n}", "name": "G"},
            ),
        ),
        (
            "update account",
            ADMIN,
            lambda o, n: ("patch", f"/api/v1/accounts/{o['account'].pk}/", {"name": n}),
        ),
        (
            "delete account",
            ADMIN,
            lambda o, n: ("delete", f"/api/v1/accounts/{o['spare_account'].pk}/", None),
        ),
        (
            "trigger ingest",
            ANALYST,
            lambda o, n: ("post", "/api/v1/ingest-runs/", {"account": o["source_account"].pk}),
        ),
    ]
    if apps.is_installed("planner.alerts"):
        cases += [
            (
                "ack anomaly",
                ANALYST,
                lambda o, n: (
                    "post",
                    f"/api/v1/anomalies/{o['anomaly'].pk}/status/",
                    {"status": "acknowledged"},
                ),
            ),
            (
                "create budget",
                ANALYST,
                lambda o, n: ("post", "/api/v1/budgets/", {"name": n, "amount_usd": "10"}),
            ),
            (
                "delete budget",
                ANALYST,
                lambda o, n: ("delete", f"/api/v1/budgets/{o['budget'].pk}/", None),
            ),
        ]
    if apps.is_installed("planner.plans"):
        cases += [
            (
                "approve plan",
                ANALYST,
                lambda o, n: ("post", f"/api/v1/plans/{o['plan'].pk}/approve/", None),
            ),
            (
                "mark plan applied",
                ADMIN,
                lambda o, n: ("post", f"/api/v1/plans/{o['approved_plan'].pk}/mark-applied/", None),
            ),
        ]
    if apps.is_installed("planner.whatif"):
        cases += [
            (
                "decide recommendation",
                ANALYST,
                lambda o, n: (
                    "post",
                    f"/api/v1/recommendations/{o['rec'].pk}/decide/",
                    {"status": "accepted", "reason": "fine"},
                ),
            ),
            (
                "create scenario",
                ANALYST,
                lambda o, n: (
                    "post",
                    "/api/v1/scenarios/",
                    {
                        "services": [o["service"].slug],
                        "window_days": 1,
                        "batch_size": 1,
                        "quantisation": "fp16",
                        "cache_hit_rate": 0.0,
                        "warm_pool": 0,
                        "commitment_term": "1y",
                        "name": n,
                    },
                ),
            ),
        ]
    return cases


def _objects(tag: str, tmp_path, analyst) -> dict:
    import datetime as dt
    from decimal import Decimal

    from fixtures_gen.focus_files import write_focus_file

    svc = make_service(slug=f"m-{tag}", name="M", modality="embeddings", latency_slo_p95_ms=100)
    acct = make_account(account_id=f"m-{tag}", name="A")
    src = write_focus_file(tmp_path / f"{tag}.csv", rows=20, seed=1).path
    o = {
        "service": svc,
        "account": acct,
        "spare_account": make_account(provider="azure", account_id=f"spare-{tag}", name="B"),
        "source_account": make_account(
            provider="other", account_id=f"src-{tag}", name="C", source_uri=str(src)
        ),
        "deployment": make_deployment(svc, acct, name=f"m-{tag}", throughput_rps_per_replica=3.0),
    }
    if apps.is_installed("planner.alerts"):
        from planner.alerts.models import Anomaly, Budget

        o["anomaly"] = Anomaly.objects.create(
            series_key=f"cost:{tag}",
            series_label=tag,
            start=dt.date(2026, 9, 1),
            end=dt.date(2026, 9, 1),
            actual_usd=Decimal(2),
            expected_usd=Decimal(1),
            impact_usd=Decimal(1),
            score=0.5,
        )
        # owned by the analyst: analysts change their own budgets, admins any (README "Security")
        o["budget"] = Budget.objects.create(name=tag, amount_usd=Decimal(5), created_by=analyst)
    if apps.is_installed("planner.plans"):
        from planner.plans.demo import decision_from_deployment
        from planner.plans.services import approve_plan, create_plan_from_decisions

        o["plan"] = create_plan_from_decisions(
            [decision_from_deployment(o["deployment"])], name=tag
        )
        o["approved_plan"] = approve_plan(
            create_plan_from_decisions(
                [decision_from_deployment(o["deployment"])], name=tag + "-ok"
            ),
            analyst,
        )
    if apps.is_installed("planner.whatif"):
        from planner.whatif.models import Recommendation

        o["rec"] = Recommendation.objects.create(
            kind="threshold",
            service=svc,
            title="t",
            monthly_savings_usd=1,
            confidence=0.5,
            slo_risk="low",
            evidence_start="2026-09-01T00:00Z",
            evidence_end="2026-09-02T00:00Z",
        )
    return o


@pytest.mark.parametrize("role", [VIEWER, ANALYST, ADMIN])
def test_role_matrix(
    role, viewer, analyst, admin_user, tmp_path, django_capture_on_commit_callbacks
):
    user = {VIEWER: viewer, ANALYST: analyst, ADMIN: admin_user}[role]
    client = _client(user)
    wrong = []
    for i, (name, needs, build) in enumerate(_cases()):
        objects = _objects(f"{role}{i}", tmp_path, analyst)
        method, url, body = build(objects, f"{role}-{i}")
        with django_capture_on_commit_callbacks(execute=True):
            resp = getattr(client, method)(url, body, format="json")
        allowed = RANK[role] >= RANK[needs]
        ok = resp.status_code < 300 if allowed else resp.status_code == 403
        if not ok:
            wrong.append(f"{name} as {role}: {resp.status_code} {resp.content[:200]!r}")
    assert not wrong, "\n".join(wrong)
