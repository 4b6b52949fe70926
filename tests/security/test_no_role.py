"""Users without a role (issue 13, item 8): every page answers 403 with a page that says to ask an
admin; the API refuses them too; signing out still works."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_user
from tests.planner.api.conftest import token_client
from tests.security.conftest import all_routes

PAGES = ["/", "/services/", "/ingest/", "/whatif/", "/plans/", "/anomalies/", "/budgets/"]


@pytest.fixture
def no_role_user(db):
    return make_user(None, "t-norole")


def test_no_role_user_gets_403_ask_an_admin_on_every_page(no_role_user, populated):
    client = Client()
    client.force_login(no_role_user)
    refused = 0
    for route in all_routes(real_ids=True):
        url = route.url
        if url.startswith(("/api/", "/static/", "/admin/")) or route.name in (
            "login",
            "logout",
            "healthz",
        ):
            continue
        resp = client.get(url)
        assert resp.status_code in (403, 405), (url, resp.status_code)
        if resp.status_code == 403:
            refused += 1
            assert "Ask an admin" in resp.content.decode(), url
    assert refused >= 20


def test_no_role_page_names_the_problem_and_shows_no_data(no_role_user, populated):
    client = Client()
    client.force_login(no_role_user)
    page = client.get("/").content.decode()
    assert "Your account has no role yet" in page and "Ask an admin" in page
    assert "chat-llm" not in page  # no fleet data on the page
    for url in PAGES:
        assert client.get(url).status_code == 403, url


def test_no_role_user_can_still_sign_out(no_role_user):
    client = Client()
    client.force_login(no_role_user)
    resp = client.post("/accounts/logout/")
    assert resp.status_code == 302 and "_auth_user_id" not in client.session


def test_no_role_user_is_refused_by_the_api(no_role_user):
    assert token_client(no_role_user).get("/api/v1/services/").status_code == 403


def test_no_role_viewer_still_reads_pages(viewer_client):
    for url in PAGES:
        assert viewer_client.get(url).status_code == 200, url
