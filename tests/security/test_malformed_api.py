"""Malformed API payloads (part of the >= 100-case corpus with test_malformed_corpus.py): each is
a 400/415 naming the offending field, and changes no stored data (fingerprint before and after)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from .conftest import data_fingerprint
from .test_malformed_corpus import AZURE_CASES, FOCUS_IDS, PROVIDER_CASES

pytestmark = pytest.mark.django_db


# --- 3. API payloads ----------------------------------------------------------------------------
SVC = {
    "slug": "asr",
    "name": "ASR",
    "modality": "speech_to_text",
    "unit_of_work": "audio-hour",
    "latency_slo_p95_ms": 800,
}
DEP = {
    "service": "corpus-svc",
    "name": "dep-x",
    "provider": "aws",
    "region": "us-east-1",
    "instance_type": "g5.xlarge",
    "gpu_model": "A10G",
    "throughput_rps_per_replica": 3.0,
}
ACCT = {"provider": "aws", "account_id": "999", "name": "New"}
BUDGET = {"name": "B", "scope": "total", "period": "monthly", "amount_usd": "100"}
SCEN = {
    "services": ["corpus-svc"],
    "window_days": 1,
    "batch_size": 1,
    "quantisation": "fp16",
    "cache_hit_rate": 0.0,
    "warm_pool": 0,
    "commitment_term": "1y",
}

# id, method, url, body (dict = JSON; bytes = raw with content type), field or text expected in the error
API_CASES = [
    (
        "svc-missing-slug",
        "post",
        "/api/v1/services/",
        {k: v for k, v in SVC.items() if k != "slug"},
        "slug",
    ),
    ("svc-bad-slug", "post", "/api/v1/services/", {**SVC, "slug": "has spaces!"}, "slug"),
    (
        "svc-unknown-modality",
        "post",
        "/api/v1/services/",
        {**SVC, "modality": "telepathy"},
        "modality",
    ),
    (
        "svc-negative-slo",
        "post",
        "/api/v1/services/",
        {**SVC, "latency_slo_p95_ms": -5},
        "latency_slo_p95_ms",
    ),
    (
        "svc-slo-as-text",
        "post",
        "/api/v1/services/",
        {**SVC, "latency_slo_p95_ms": "fast"},
        "latency_slo_p95_ms",
    ),
    (
        "svc-huge-slo",
        "post",
        "/api/v1/services/",
        {**SVC, "latency_slo_p95_ms": 10**30},
        "latency_slo_p95_ms",
    ),
    (
        "svc-zero-units",
        "post",
        "/api/v1/services/",
        {**SVC, "units_per_request": 0},
        "units_per_request",
    ),
    ("svc-name-too-long", "post", "/api/v1/services/", {**SVC, "name": "x" * 201}, "name"),
    ("svc-nul-in-name", "post", "/api/v1/services/", {**SVC, "name": "a\x00b"}, "name"),
    ("svc-duplicate-slug", "post", "/api/v1/services/", {**SVC, "slug": "corpus-svc"}, "slug"),
    ("svc-name-as-object", "post", "/api/v1/services/", {**SVC, "name": {"$gt": ""}}, "name"),
    (
        "svc-patch-bad-modality",
        "patch",
        "/api/v1/services/corpus-svc/",
        {"modality": 3},
        "modality",
    ),
    ("dep-unknown-service", "post", "/api/v1/deployments/", {**DEP, "service": "nope"}, "service"),
    (
        "dep-min-over-max",
        "post",
        "/api/v1/deployments/",
        {**DEP, "min_replicas": 9, "max_replicas": 2},
        "max_replicas",
    ),
    (
        "dep-zero-throughput",
        "post",
        "/api/v1/deployments/",
        {**DEP, "throughput_rps_per_replica": 0},
        "throughput_rps_per_replica",
    ),
    ("dep-negative-gpus", "post", "/api/v1/deployments/", {**DEP, "gpu_count": -1}, "gpu_count"),
    ("dep-unknown-account", "post", "/api/v1/deployments/", {**DEP, "account": 987654}, "account"),
    ("dep-bad-provider", "post", "/api/v1/deployments/", {**DEP, "provider": "oracle"}, "provider"),
    ("dep-name-not-slug", "post", "/api/v1/deployments/", {**DEP, "name": "a/b"}, "name"),
    (
        "acct-secret-in-credential-ref",
        "post",
        "/api/v1/accounts/",
        {**ACCT, "credential_ref": "AKIA1234567890/secret"},
        "credential_ref",
    ),
    ("acct-bad-provider", "post", "/api/v1/accounts/", {**ACCT, "provider": "ibm"}, "provider"),
    (
        "acct-zero-interval",
        "post",
        "/api/v1/accounts/",
        {**ACCT, "ingest_interval_hours": 0},
        "ingest_interval_hours",
    ),
    (
        "acct-duplicate",
        "post",
        "/api/v1/accounts/",
        {**ACCT, "account_id": "corpus"},
        "non_field_errors",
    ),
    (
        "acct-missing-name",
        "post",
        "/api/v1/accounts/",
        {k: v for k, v in ACCT.items() if k != "name"},
        "name",
    ),
    ("acct-bad-source", "post", "/api/v1/accounts/", {**ACCT, "source": "ftp"}, "source"),
    ("ingest-no-account", "post", "/api/v1/ingest-runs/", {}, "account"),
    ("ingest-unknown-account", "post", "/api/v1/ingest-runs/", {"account": 424242}, "account"),
    ("ingest-account-as-text", "post", "/api/v1/ingest-runs/", {"account": "corpus"}, "account"),
    ("ingest-no-file-no-source", "post", "/api/v1/ingest-runs/", {"account": "ACCOUNT"}, "file"),
    ("costs-bad-start", "get", "/api/v1/costs/?start=2026-13-40", None, "start"),
    ("costs-reversed-range", "get", "/api/v1/costs/?start=2026-09-10&end=2026-09-01", None, "end"),
    ("costs-bad-account", "get", "/api/v1/costs/?account=abc", None, "account"),
    ("summary-bad-group", "get", "/api/v1/costs/summary/?group_by=__class__", None, "group_by"),
    ("malformed-json", "post", "/api/v1/services/", b'{"slug": "x",', "JSON parse error"),
    ("json-array-body", "post", "/api/v1/services/", b"[1, 2, 3]", "non_field_errors"),
    ("xml-body", "post", "/api/v1/services/", b"<service/>", "Unsupported media type"),
    (
        "budget-negative-amount",
        "post",
        "/api/v1/budgets/",
        {**BUDGET, "amount_usd": "-5"},
        "amount_usd",
    ),
    (
        "budget-service-scope-without-service",
        "post",
        "/api/v1/budgets/",
        {**BUDGET, "scope": "service"},
        "service",
    ),
    (
        "budget-tag-scope-without-tag",
        "post",
        "/api/v1/budgets/",
        {**BUDGET, "scope": "tag"},
        "tag_value",
    ),
    (
        "budget-bad-recipient",
        "post",
        "/api/v1/budgets/",
        {**BUDGET, "recipients": "not-an-email"},
        "recipients",
    ),
    (
        "budget-threshold-out-of-range",
        "post",
        "/api/v1/budgets/",
        {**BUDGET, "actual_thresholds": [0, 5000]},
        "actual_thresholds",
    ),
    (
        "budget-thresholds-not-list",
        "post",
        "/api/v1/budgets/",
        {**BUDGET, "forecast_thresholds": "100"},
        "forecast_thresholds",
    ),
    (
        "budget-bad-webhook",
        "post",
        "/api/v1/budgets/",
        {**BUDGET, "webhook_url": "javascript:alert(1)"},
        "webhook_url",
    ),
    ("budget-bad-period", "post", "/api/v1/budgets/", {**BUDGET, "period": "weekly"}, "period"),
    (
        "budget-status-bad-date",
        "get",
        "/api/v1/budgets/BUDGET/status/?date=31/12/2026",
        None,
        "date",
    ),
    (
        "anomaly-bad-status",
        "post",
        "/api/v1/anomalies/ANOMALY/status/",
        {"status": "ignored"},
        "status",
    ),
    (
        "scenario-unknown-service",
        "post",
        "/api/v1/scenarios/",
        {**SCEN, "services": ["ghost"]},
        "services",
    ),
    ("scenario-no-services", "post", "/api/v1/scenarios/", {**SCEN, "services": []}, "services"),
    (
        "scenario-window-too-long",
        "post",
        "/api/v1/scenarios/",
        {**SCEN, "window_days": 365},
        "window_days",
    ),
    (
        "scenario-cache-hit-over-1",
        "post",
        "/api/v1/scenarios/",
        {**SCEN, "cache_hit_rate": 1.5},
        "cache_hit_rate",
    ),
    (
        "scenario-bad-quantisation",
        "post",
        "/api/v1/scenarios/",
        {**SCEN, "quantisation": "int1"},
        "quantisation",
    ),
    (
        "scenario-metric-without-target",
        "post",
        "/api/v1/scenarios/",
        {**SCEN, "metric": "METRIC"},
        "target",
    ),
    (
        "scenario-min-over-max",
        "post",
        "/api/v1/scenarios/",
        {**SCEN, "min_replicas": 8, "max_replicas": 2},
        "max_replicas",
    ),
    (
        "plans-files-bad-autoscaler",
        "get",
        "/api/v1/plans/PLAN/files/?autoscaler=cron",
        None,
        "autoscaler",
    ),
]


@pytest.fixture
def api_objects(loaded, admin_user):
    """One object per feature app for ids in URLs; an admin token client."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from tests.factories import make_service

    account, _, _ = loaded
    make_service(slug="corpus-svc", name="Corpus", modality="embeddings", latency_slo_p95_ms=100)
    ids = {"ACCOUNT": account.pk}
    from django.apps import apps

    if apps.is_installed("planner.alerts"):
        from planner.alerts.models import Anomaly, Budget

        ids["BUDGET"] = Budget.objects.create(name="b", amount_usd=Decimal(10)).pk
        ids["ANOMALY"] = Anomaly.objects.create(
            series_key="k",
            series_label="k",
            start=dt.date(2026, 9, 1),
            end=dt.date(2026, 9, 1),
            actual_usd=1,
            expected_usd=1,
            impact_usd=0,
            score=0.1,
        ).pk
    if apps.is_installed("planner.plans"):
        from planner.core.seeding import ensure_fleet
        from planner.plans.demo import decision_from_deployment
        from planner.plans.services import create_plan_from_decisions

        dep = next(iter(ensure_fleet().values()))
        ids["PLAN"] = create_plan_from_decisions([decision_from_deployment(dep)], name="p").pk
    if apps.is_installed("planner.whatif"):
        from costmodels.results import METRICS

        ids["METRIC"] = next(iter(METRICS))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return client, ids


def test_corpus_is_at_least_100_cases():
    assert len(FOCUS_IDS) + len(PROVIDER_CASES) + len(AZURE_CASES) + len(API_CASES) >= 100
    assert len(set(FOCUS_IDS)) == len(FOCUS_IDS) and len({c[0] for c in API_CASES}) == len(
        API_CASES
    )


@pytest.mark.parametrize(
    "case_id,method,url,body,expected", API_CASES, ids=[c[0] for c in API_CASES]
)
def test_malformed_api_payload_is_a_clear_4xx_and_changes_nothing(
    case_id, method, url, body, expected, api_objects
):
    client, ids = api_objects
    for placeholder, value in ids.items():
        url = url.replace(placeholder, str(value))
        if isinstance(body, dict):
            body = {k: (value if v == placeholder else v) for k, v in body.items()}
    if any(p in url for p in ("BUDGET", "ANOMALY", "PLAN")) or (
        isinstance(body, dict) and "METRIC" in body.values()
    ):
        pytest.skip("the feature app for this case is not installed")
    before = data_fingerprint()
    if isinstance(body, bytes):
        ctype = "application/xml" if body.startswith(b"<") else "application/json"
        resp = getattr(client, method)(url, body, content_type=ctype)
    elif method == "get":
        resp = client.get(url)
    else:
        resp = getattr(client, method)(url, body, format="json")
    assert resp.status_code in (400, 415), f"{case_id}: {resp.status_code} {resp.content[:300]!r}"
    assert expected in resp.content.decode(), (
        f"{case_id}: {expected!r} not in {resp.content[:400]!r}"
    )
    assert data_fingerprint() == before
