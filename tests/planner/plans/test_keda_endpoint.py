"""GET /api/keda/targets/<slug>: bearer token per cluster, scheduled target at a frozen time."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
import time_machine

from planner.plans.models import ClusterToken
from planner.plans.services import approve_plan, create_plan_from_decisions, mark_applied
from tests.factories import make_user

URL = "/api/keda/targets/chat-llm"


@pytest.fixture
def applied(fleet_services, known_plan, analyst, admin_user):
    plan = create_plan_from_decisions(known_plan, name="applied")
    approve_plan(plan, analyst)
    return mark_applied(plan, admin_user)


@pytest.fixture
def token(db):
    return ClusterToken.issue("prod-use1")[1]


def get(client, token=None, url=URL):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(url, **headers)


@pytest.mark.django_db
def test_missing_or_wrong_token_is_rejected(client, applied, token):
    for response in (
        get(client),
        get(client, "hdrm_not-a-real-token"),
        get(client, token.upper()),
        client.get(URL, HTTP_AUTHORIZATION=f"Basic {token}"),
    ):
        assert response.status_code == 401
        assert response.json() == {"error": "missing or invalid bearer token"}
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_revoked_token_is_rejected(client, applied):
    row, raw = ClusterToken.issue("prod-use1")
    assert get(client, raw).status_code == 200
    row.revoked_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    row.save()
    assert get(client, raw).status_code == 401


@pytest.mark.django_db
def test_token_only_reads_its_own_cluster(client, applied):
    other = ClusterToken.issue("prod-euw4")[1]
    assert get(client, other).status_code == 404
    assert get(client, other, "/api/keda/targets/embeddings").status_code == 200


@pytest.mark.django_db
def test_no_applied_plan_is_404(client, fleet_services, known_plan, token):
    create_plan_from_decisions(known_plan, name="draft only")
    response = get(client, token)
    assert response.status_code == 404 and "no applied plan" in response.json()["error"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("frozen", "replicas", "active"),
    [("2026-11-23T13:30:00+00:00", 8, ["weekday-peak"]), ("2026-11-23T12:30:00+00:00", 2, [])],
)
def test_scheduled_target_at_frozen_time(
    client, applied, token, known_plan, frozen, replicas, active
):
    with time_machine.travel(dt.datetime.fromisoformat(frozen), tick=False):
        response = get(client, token)
    assert response.status_code == 200
    body = response.json()
    assert body["target_replicas"] == replicas and body["active_schedules"] == active
    assert body["at"] == frozen
    assert (body["min_replicas"], body["max_replicas"], body["plan_version"]) == (
        2,  # the floor; the warm pool is placeholder pods, not replicas
        12,
        applied.version,
    )
    assert body["metric"] == {
        "source": "prometheus",
        "query": known_plan[0].metric.query,
        "threshold": 8.0,
    }
    assert body["schedules"][0]["start"] == "0 8 * * 1-5"
    assert response["Cache-Control"] == "no-store"
    assert ClusterToken.objects.get(cluster="prod-use1").last_used_at is not None


@pytest.mark.django_db(transaction=True)
def test_over_real_http(live_server, fleet_services, known_plan):
    plan = create_plan_from_decisions(known_plan, name="http")
    user = make_user(None, "ops")
    approve_plan(plan, user)
    mark_applied(plan, user)
    raw = ClusterToken.issue("prod-use1")[1]
    url = f"{live_server.url}{URL}"
    assert requests.get(url, timeout=10).status_code == 401
    assert (
        requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    )
    with time_machine.travel(dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC), tick=False):
        response = requests.get(url, headers={"Authorization": f"Bearer {raw}"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["target_replicas"] == 8  # 09:00 New York, Monday
