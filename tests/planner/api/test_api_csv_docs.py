"""CSV formula-injection escaping, the OpenAPI schema, the Swagger UI (local assets) and /healthz."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from planner.api.csv import FORMULA_PREFIXES, csv_text, escape_cell
from tests.factories import make_account, make_rollup


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+41",
        "-2+3",
        "@SUM(A1)",
        "\t=x",
        "\r=x",
        '=HYPERLINK("http://evil","x")',
        "=cmd|' /C calc'!A0",
    ],
)
def test_formula_cells_are_quoted(text):
    assert escape_cell(text) == "'" + text


@pytest.mark.parametrize(
    "value,expected",
    [
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (-12.5, -12.5),
        (Decimal("-3.25"), Decimal("-3.25")),
        (7, 7),
        (True, "true"),
        (" =x", " =x"),
    ],
)
def test_safe_values_pass_through(value, expected):
    assert escape_cell(value) == expected


def test_csv_round_trip_never_starts_a_text_cell_with_a_trigger():
    rows = [[p + "payload", -1.5, "ok"] for p in FORMULA_PREFIXES]
    parsed = list(csv.reader(io.StringIO(csv_text(["a", "b", "c"], rows))))
    assert parsed[0] == ["a", "b", "c"]
    for row in parsed[1:]:
        assert row[0].startswith("'") and row[1] == "-1.5" and row[2] == "ok"


@pytest.mark.django_db
def test_cost_export_escapes_cells_from_billing_data(viewer_api):
    acct = make_account(account_id="api-test-csv", name="x")
    make_rollup(
        acct,
        "2026-01-02",
        Decimal("-5.5"),
        billing_period_start="2026-01-01",
        service_name='=HYPERLINK("http://evil")',
        sku="@sku",
        region="-us",
        list_cost=Decimal("1"),
    )
    resp = viewer_api.get("/api/v1/costs/export/", {"account": acct.pk})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert 'filename="headroom-costs.csv"' in resp["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(resp.streaming_content).decode())))
    assert len(rows) == 1
    r = rows[0]
    assert (
        r["service_name"] == '\'=HYPERLINK("http://evil")'
        and r["sku"] == "'@sku"
        and r["region"] == "'-us"
    )
    assert r["billed_cost"] == "-5.500000"  # numbers stay numbers


@pytest.mark.django_db
def test_schema_is_openapi3_and_covers_the_api(viewer_api):
    resp = viewer_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert resp.status_code == 200
    schema = resp.json()
    assert schema["openapi"].startswith("3.")
    for p in (
        "/api/v1/accounts/",
        "/api/v1/services/",
        "/api/v1/deployments/",
        "/api/v1/costs/",
        "/api/v1/costs/summary/",
        "/api/v1/ingest-runs/",
        "/api/v1/ingest-runs/{id}/",
    ):
        assert p in schema["paths"], p
    names = {p["name"] for p in schema["paths"]["/api/v1/costs/"]["get"]["parameters"]}
    assert {"start", "end", "service", "provider", "page", "page_size"} <= names
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_schema_and_api_deny_anonymous(anon_api):
    assert anon_api.get("/api/v1/schema/").status_code in (401, 403)


@pytest.mark.django_db
def test_docs_page_uses_local_assets_only(viewer_client):
    resp = viewer_client.get("/api/v1/docs/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    asset = viewer_client.get(
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    )
    assert asset.status_code == 200


@pytest.mark.django_db
def test_docs_page_redirects_anonymous_browser_to_login(client):
    resp = client.get("/api/v1/docs/")
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok" and "broker" in body


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_unreachable(client, settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from planner.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own setting (as CI sets it)
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        resp = client.get("/healthz")  # healthz opens its own connection (not the producer pool)
    finally:
        app.conf.broker_url = old
    assert resp.status_code == 503
    body = resp.json()
    assert (
        body["status"] == "unhealthy"
        and body["broker"].startswith("error:")
        and body["database"] == "ok"
    )
    assert "redis://" not in resp.content.decode()  # no connection strings leak


@pytest.mark.django_db
def test_an_unreachable_task_queue_is_a_503_not_a_500(analyst, unreachable_broker):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(analyst)
    resp = api.post("/api/v1/recommendations/refresh/")
    assert resp.status_code == 503, resp.content
    assert "task queue is unavailable" in resp.json()["detail"]
    assert resp["Retry-After"] == "60"
