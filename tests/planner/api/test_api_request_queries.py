"""What one API request asks the database (issue #19: 50 clients on two CPUs): the token, its
user and the user's role in one query; a short list in one query (no COUNT); longer lists
still paginated and counted; filters applied as before."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from planner.core.models import Deployment, Service
from planner.core.roles import user_role
from tests.factories import make_deployment, make_service, make_user
from tests.planner.api.conftest import token_client

pytestmark = pytest.mark.django_db


@contextmanager
def sql_log():
    """Every statement run inside, even across the test client's request signals."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def test_a_short_list_is_one_query_after_the_token_with_its_role(viewer_api):
    make_service(), make_service()
    n = Service.objects.count()
    assert n <= 100  # one page
    with sql_log() as seen:
        resp = viewer_api.get("/api/v1/services/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == n and len(body["results"]) == n
    assert body["next"] is None and body["previous"] is None
    assert len(seen) == 2, seen  # token + user + role, then the services
    assert "authtoken_token" in seen[0] and "auth_group" in seen[0]
    assert "COUNT" not in " ".join(seen).upper()


def test_a_list_longer_than_its_first_page_is_counted_and_linked(viewer_api):
    for _ in range(5):
        make_service()
    n = Service.objects.count()
    last = (n + 1) // 2  # pages of 2
    first = viewer_api.get("/api/v1/services/?page_size=2").json()
    assert first["count"] == n and len(first["results"]) == 2
    assert "page=2" in first["next"] and first["previous"] is None
    tail = viewer_api.get(f"/api/v1/services/?page_size=2&page={last}").json()
    assert tail["count"] == n and len(tail["results"]) == n - 2 * (last - 1)
    assert tail["next"] is None
    slugs = [r["slug"] for r in first["results"]]
    assert slugs == list(Service.objects.order_by("id").values_list("slug", flat=True)[:2])
    explicit = viewer_api.get("/api/v1/services/?page_size=2&page=1").json()
    assert explicit == first
    assert viewer_api.get(f"/api/v1/services/?page_size=2&page={last + 1}").status_code == 404


def test_an_exactly_full_first_page_has_no_next_page(viewer_api):
    make_service()
    n = Service.objects.count()
    body = viewer_api.get(f"/api/v1/services/?page_size={n}").json()
    assert body["count"] == n and len(body["results"]) == n and body["next"] is None
    shorter = viewer_api.get(f"/api/v1/services/?page_size={n - 1}").json()
    assert shorter["count"] == n and len(shorter["results"]) == n - 1 and shorter["next"]


def test_filters_still_apply_and_no_parameters_means_everything(viewer_api):
    chat, speech = make_service(), make_service(modality="speech_to_text")
    make_deployment(chat), make_deployment(chat), make_deployment(speech)
    everything = viewer_api.get("/api/v1/deployments/").json()
    assert everything["count"] == Deployment.objects.count()
    only_chat = viewer_api.get(f"/api/v1/deployments/?service__slug={chat.slug}").json()
    assert only_chat["count"] == 2
    assert {r["service"] for r in only_chat["results"]} == {chat.slug}
    services = viewer_api.get("/api/v1/services/?modality=speech_to_text").json()
    slugs = {r["slug"] for r in services["results"]}
    assert speech.slug in slugs and chat.slug not in slugs
    assert slugs == set(
        Service.objects.filter(modality="speech_to_text").values_list("slug", flat=True)
    )
    bad = viewer_api.get("/api/v1/deployments/?account=not-a-number")
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [(None, 403, 403), ("viewer", 200, 403), ("analyst", 200, 201), ("admin", 200, 201)],
)
def test_the_role_read_with_the_token_gives_the_same_answers(role, read, write):
    user = make_user(role)
    api = token_client(user)
    assert api.get("/api/v1/services/").status_code == read
    new = {
        "slug": f"new-{role}",
        "name": "New",
        "modality": "llm_chat",
        "unit_of_work": "1k tokens",
        "latency_slo_p95_ms": 100,
    }
    assert api.post("/api/v1/services/", new, format="json").status_code == write
    fresh = type(user).objects.get(pk=user.pk)
    assert user_role(fresh) == role  # what the groups say, read the ordinary way


def test_an_unknown_token_or_an_inactive_user_is_refused(viewer):
    api = token_client(viewer)
    key = Token.objects.get(user=viewer).key
    viewer.is_active = False
    viewer.save()
    resp = api.get("/api/v1/services/")
    assert resp.status_code in (401, 403) and "inactive" in resp.json()["detail"].lower()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key[:-1]}{'a' if key[-1] != 'a' else 'b'}")
    resp = api.get("/api/v1/services/")
    assert resp.status_code in (401, 403) and "invalid token" in resp.json()["detail"].lower()


def test_the_throttle_keeps_its_sliding_window_and_retry_after(analyst, monkeypatch):
    import datetime as dt

    import time_machine
    from django.core.cache import cache
    from rest_framework import throttling

    rates = {"user": "3/min", "anon": "2/min"}
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(throttling.AnonRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    api = token_client(analyst)
    start = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)
    codes = []
    for seconds in (0, 20, 40, 50):  # the 4th request within a minute of the 1st is refused
        with time_machine.travel(start + dt.timedelta(seconds=seconds), tick=False):
            codes.append(api.get("/api/v1/services/"))
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[-1]["Retry-After"] == "10"  # the 1st leaves the window at 60 s
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert api.get("/api/v1/services/").status_code == 200  # 20, 40, 61 in the window
    with time_machine.travel(start + dt.timedelta(seconds=62), tick=False):
        assert api.get("/api/v1/services/").status_code == 429
    cache.clear()


def test_the_highest_of_several_roles_counts_and_a_superuser_is_admin():
    from django.contrib.auth.models import Group

    both = make_user("viewer")
    both.groups.add(Group.objects.get(name="analyst"))
    new = {"name": "New", "modality": "llm_chat", "unit_of_work": "1k tokens"}
    new["latency_slo_p95_ms"] = 100
    resp = token_client(both).post("/api/v1/services/", {**new, "slug": "by-both"}, format="json")
    assert resp.status_code == 201
    root = make_user(None)
    root.is_superuser = True
    root.save()
    assert token_client(root).delete("/api/v1/services/by-both/").status_code == 204
