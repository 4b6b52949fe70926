"""Every URL pattern, crawled: anonymous users are denied everywhere except login, health and
static; a viewer is refused every change (POST, and PUT/PATCH/DELETE on the API)."""

from __future__ import annotations

import pytest
from django.test import Client

from .conftest import all_routes, data_fingerprint, is_login_redirect

pytestmark = pytest.mark.django_db

PUBLIC = {"login", "healthz", "admin:login"}
# Logging in or out changes no Headroom data; a viewer may do both.
VIEWER_MAY_POST = {"login", "logout", "admin:login", "admin:logout"}


def test_the_crawl_sees_the_whole_project():
    names = {r.name for r in all_routes()}
    assert {"dashboard", "ingest-upload", "api-account-list", "api-schema", "api-docs"} <= names
    assert len(names) > 60


def test_anonymous_is_denied_everywhere_but_login_health_and_static():
    client = Client()
    failures = []
    for route in all_routes():
        if route.name in PUBLIC:
            continue
        for method in ("get", "post"):
            resp = getattr(client, method)(route.url)
            denied = is_login_redirect(resp) or resp.status_code in (401, 403)
            if route.url.startswith("/api/") and route.name != "api-docs":
                denied = resp.status_code in (401, 403)  # scripts get JSON, never a login page
            if route.name == "keda-targets" and method == "post":
                denied = resp.status_code in (401, 403, 405)  # GET-only cluster-token endpoint
            if not denied:
                failures.append(
                    f"{method.upper()} {route.url} ({route.name}) -> {resp.status_code}"
                )
    assert not failures, "anonymous access allowed:\n" + "\n".join(failures)


def test_public_pages_are_public():
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/admin/login/").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)  # 503 = unhealthy, still answered
    assert (
        client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css").status_code
        == 200
    )


def test_viewer_is_refused_every_change(viewer_client, populated):
    """POST (and PUT/PATCH/DELETE on API objects) everywhere, with real object ids: the API
    answers 403/405; a page either refuses (403/405) or changes no stored data at all."""
    viewer_client.raise_request_exception = False
    failures = []
    for route in all_routes(real_ids=True):
        if route.name in VIEWER_MAY_POST:
            continue
        is_api = route.url.startswith("/api/v1/")
        methods = ["post"] + (
            ["put", "patch", "delete"] if is_api and route.name.endswith("-detail") else []
        )
        for method in methods:
            before = data_fingerprint()
            resp = getattr(viewer_client, method)(
                route.url, content_type="application/json", data="{}"
            )
            refused = resp.status_code in (403, 405)
            if route.name == "keda-targets":
                refused = resp.status_code in (
                    401,
                    403,
                    405,
                )  # cluster-token endpoint, not for users
            if is_api and not refused:
                failures.append(
                    f"{method.upper()} {route.url} ({route.name}) -> {resp.status_code}"
                )
            elif not refused and data_fingerprint() != before:
                failures.append(
                    f"{method.upper()} {route.url} ({route.name}) -> {resp.status_code} CHANGED DATA"
                )
    assert not failures, "a viewer could change something:\n" + "\n".join(failures)


def test_a_known_mutation_is_caught_by_the_fingerprint(populated):
    """The crawl's 'changed no data' check must be able to fail."""
    from planner.core.models import Service

    before = data_fingerprint()
    Service.objects.filter(pk=Service.objects.first().pk).update(team="renamed")
    assert data_fingerprint() != before


def test_viewer_pages_never_fail_with_a_server_error(viewer_client, populated):
    viewer_client.raise_request_exception = False  # collect every failure, not just the first
    failures = []
    for route in all_routes(real_ids=True):
        if route.name in ("logout", "admin:logout"):
            continue
        resp = viewer_client.get(route.url)
        if resp.status_code >= 500:
            failures.append(f"GET {route.url} ({route.name}) -> {resp.status_code}")
    assert not failures, "\n".join(failures)
