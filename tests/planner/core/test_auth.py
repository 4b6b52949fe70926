import pytest
from django.urls import reverse

from planner.core.roles import ADMIN, ANALYST, VIEWER, has_role, user_role


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    resp = client.get("/")
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("login"))
    assert client.get(reverse("ingest-runs")).status_code == 302


@pytest.mark.django_db
def test_login_and_health_are_public(client):
    assert client.get(reverse("login")).status_code == 200
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json()["database"] == "ok"


@pytest.mark.django_db
def test_roles_are_ranked(viewer, analyst, admin_user):
    assert user_role(viewer) == VIEWER and not has_role(viewer, ANALYST)
    assert has_role(analyst, VIEWER) and has_role(analyst, ANALYST) and not has_role(analyst, ADMIN)
    assert has_role(admin_user, ANALYST) and admin_user.is_staff


@pytest.mark.django_db
def test_viewer_reads_but_cannot_upload(viewer_client, demo_fleet):
    assert viewer_client.get("/").status_code == 200
    resp = viewer_client.post(reverse("ingest-upload"), {})
    assert resp.status_code == 403


@pytest.mark.django_db
def test_viewer_permissions_are_view_only(viewer):
    perms = viewer.get_all_permissions()
    assert perms and all(p.split(".")[1].startswith("view_") for p in perms)


@pytest.mark.django_db
def test_admin_reaches_django_admin_and_viewer_does_not(client, admin_user, viewer):
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    client.force_login(viewer)
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_post_without_csrf_token_is_refused(analyst):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(analyst)
    assert strict.post(reverse("ingest-upload"), {}).status_code == 403


@pytest.mark.django_db
def test_an_unreachable_task_queue_shows_a_503_page(analyst_client, unreachable_broker):
    resp = analyst_client.post(reverse("recommendations-refresh"))
    assert resp.status_code == 503 and resp["Retry-After"] == "60"
    assert "Nothing was queued" in resp.content.decode()
