"""The data version behind every cached page figure (planner/core/data_version.py): it moves
with every write of rollups or usage samples, costs one query per page view however many panels
a page caches, and a usage ingest that commits after a page read it mid-load still moves it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from planner.core.data_version import data_changed, data_version, read_data_version
from planner.core.roles import assign_role, user_role
from planner.usage.models import UsageSample
from tests.factories import (
    make_account,
    make_deployment,
    make_hourly_samples,
    make_rollup,
    make_service,
    make_user,
)

START = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_new_rollup_or_usage_sample_moves_the_version():
    acct = make_account()
    before = data_version()
    make_rollup(acct, dt.date(2026, 9, 3), 12.5)
    after_rollup = data_version()
    assert after_rollup != before
    make_hourly_samples(make_deployment(make_service(), acct), START, replicas=2.0, hours=1)
    assert data_version() != after_rollup


def _version_queries(queries) -> int:
    return sum("MAX(loaded_at)" in q["sql"] for q in queries)


@pytest.mark.django_db
def test_one_version_read_per_page_view(viewer_client, demo_fleet):
    """The dashboard caches three panels (figures, budgets at risk, first-run hint): one read."""
    viewer_client.get("/")  # compute and cache
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get("/").status_code == 200
    assert _version_queries(queries.captured_queries) == 1
    with CaptureQueriesContext(connection) as queries:
        data_version()
        data_version()  # outside a request: read at each call
    assert _version_queries(queries.captured_queries) == 2


@pytest.mark.django_db(transaction=True)
def test_usage_written_after_a_mid_load_read_moves_the_version_on_commit():
    """PostgreSQL reads the samples' identity sequence, which moves at the INSERT, before the
    commit: a page that read the version then could cache old figures under it. The ingest
    calls data_changed on commit, so the version moves again."""
    if connection.vendor != "postgresql":
        pytest.skip("sequence-based version is PostgreSQL's; SQLite reads MAX(id) in-transaction")
    dep = make_deployment(make_service(), make_account())
    with transaction.atomic():
        UsageSample.objects.create(deployment=dep, ts=START, step_seconds=60, replicas=1.0)
        mid_load = read_data_version()
        transaction.on_commit(data_changed)
    assert read_data_version() != mid_load


@pytest.mark.django_db
def test_role_is_read_once_per_user_object_and_forgotten_on_change():
    user = make_user("viewer")
    with CaptureQueriesContext(connection) as queries:
        assert user_role(user) == "viewer"
        assert user_role(user) == "viewer"
    assert sum("auth_group" in q["sql"] for q in queries.captured_queries) == 1
    assign_role(user, "analyst")
    assert user_role(user) == "analyst"


@pytest.mark.django_db
def test_a_page_view_loads_the_user_and_its_role_in_one_query(viewer_client):
    with CaptureQueriesContext(connection) as queries:
        page = viewer_client.get("/services/")
    assert page.status_code == 200 and page.context["user_role"] == "viewer"
    user_queries = [q["sql"] for q in queries.captured_queries if '"auth_user_groups"' in q["sql"]]
    assert len(user_queries) == 1 and 'FROM "auth_user"' in user_queries[0]
