"""Cost lists and summaries are cached per query and data version: a repeated read runs no cost
query, and a new load is shown at once (the key changes), never a stale figure. Amounts are the
hand-written records' own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planner.core.models import CloudAccount
from tests.billing_rows import load_rows

pytestmark = pytest.mark.django_db
DAY = dt.datetime(2019, 3, 5, 10, tzinfo=dt.UTC)


@pytest.fixture
def account():
    return CloudAccount.objects.create(provider="aws", account_id="cache-acct", name="cache")


def _summary(api, account):
    url = f"/api/v1/costs/summary/?group_by=provider&account={account.pk}"
    return api.get(url).json()


def test_repeated_summary_reads_no_rollups_and_a_new_load_shows_at_once(viewer_api, account):
    load_rows(account, [{"ChargePeriodStart": DAY, "EffectiveCost": 10.0}])
    first = _summary(viewer_api, account)
    assert [(r["key"], Decimal(r["effective_cost"])) for r in first] == [("AWS", Decimal("10"))]
    with CaptureQueriesContext(connection) as queries:
        assert _summary(viewer_api, account) == first
    assert not [q for q in queries.captured_queries if "FROM \"billing_costrollup\"" in q["sql"]
                and "MAX(" not in q["sql"]]  # fmt: skip
    # a second period for the same account: 10 + 2.5 (the load inserts fresh rollup rows)
    load_rows(account, [{"ChargePeriodStart": DAY + dt.timedelta(days=31), "EffectiveCost": 2.5}])
    after = _summary(viewer_api, account)
    assert [(r["key"], Decimal(r["effective_cost"])) for r in after] == [("AWS", Decimal("12.5"))]


def test_cached_list_pages_follow_new_loads(viewer_api, account):
    url = f"/api/v1/costs/?account={account.pk}&start=2019-03-01&end=2019-04-30"
    load_rows(account, [{"ChargePeriodStart": DAY, "EffectiveCost": 4.0}])
    page = viewer_api.get(url).json()
    assert page["count"] == 1 and Decimal(page["results"][0]["effective_cost"]) == 4
    assert viewer_api.get(url).json() == page
    load_rows(account, [{"ChargePeriodStart": DAY + dt.timedelta(days=31), "EffectiveCost": 1.0}])
    page = viewer_api.get(url).json()
    assert sorted(Decimal(r["effective_cost"]) for r in page["results"]) == [1, 4]


def test_a_bad_filter_is_refused_every_time(viewer_api):
    for _ in range(2):
        assert viewer_api.get("/api/v1/costs/?start=2019-04-01&end=2019-03-01").status_code == 400
