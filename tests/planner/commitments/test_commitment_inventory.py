"""Commitments inventory: utilisation, coverage, unused cost and renew/resize advice from
hand-written line items (figures worked out by hand in the comments), the Contract Commitment
dataset stored from a provider-shaped file, expiry alerts, page and API."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import pytest
from billing_rows import DEFAULTS, load_rows
from django.core import mail
from django.urls import reverse

from planner.billing.models import RunSource
from planner.commitments.advice import Action
from planner.commitments.contracts import import_contract_commitments
from planner.commitments.expiry import alert_expiring
from planner.commitments.inventory import inventory, sync_from_line_items, usage_by_commitment
from planner.commitments.models import Commitment, ExpiryAlertRule, ExpiryNotice
from tests.factories import make_account, make_user

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ingest"))

pytestmark = pytest.mark.django_db
DAY = dt.date(2032, 5, 4)
T0 = dt.datetime(2032, 5, 4, tzinfo=dt.UTC)
OD, COMMIT = 1.0, 0.6  # on-demand and committed price per instance-hour


def _hour(h, sku, category, qty, status=None, cid=None):
    price = COMMIT if category == "Committed" else OD
    return {
        "ChargePeriodStart": T0 + dt.timedelta(hours=h),
        "PricingCategory": category,
        "SkuId": sku,
        "PricingQuantity": qty,
        "ConsumedQuantity": 0.0 if status == "Unused" else qty,
        "ListUnitPrice": OD,
        "ListCost": qty * OD,
        "EffectiveCost": qty * price,
        "CommitmentDiscountId": cid,
        "CommitmentDiscountStatus": status,
        "CommitmentDiscountCategory": "Usage" if cid else None,
        "CommitmentDiscountType": "Reserved Instance" if cid else None,
        "CommitmentDiscountName": f"RI {cid}" if cid else None,
        "CommitmentDiscountUnit": "Hours" if cid else None,
    }


@pytest.fixture
def account():
    acct = make_account(account_id="cm-inv", name="Commitments")
    rows = []
    # ri-1: 1 instance committed on g5.xlarge; demand per hour 2, 1, 0, 3
    for h, demand in enumerate([2, 1, 0, 3]):
        if demand == 0:
            rows.append(_hour(h, "g5.xlarge", "Committed", 1, "Unused", "ri-1"))
            continue
        rows.append(_hour(h, "g5.xlarge", "Committed", 1, "Used", "ri-1"))
        if demand > 1:
            rows.append(_hour(h, "g5.xlarge", "Standard", demand - 1))
    # ri-2: 2 instances committed on p4d.24xlarge; demand 1, 1, 0, 1
    for h, demand in enumerate([1, 1, 0, 1]):
        if demand:
            rows.append(_hour(h, "p4d.24xlarge", "Committed", demand, "Used", "ri-2"))
        rows.append(_hour(h, "p4d.24xlarge", "Committed", 2 - demand, "Unused", "ri-2"))
    load_rows(acct, rows)
    return acct


def test_commitment_inventory_utilisation_coverage_unused_by_hand(account):
    usage = usage_by_commitment(DAY, DAY, account_ids=[account.pk])
    ri1, ri2 = usage["ri-1"], usage["ri-2"]
    # ri-1: used 3 h × 0.6 = 1.8, unused 1 h × 0.6 = 0.6 → utilisation 1.8 / 2.4 = 0.75;
    # covered list 3 × 1.0 = 3.0 of eligible 2 + 1 + 0 + 3 = 6.0 → coverage 0.5
    assert ri1.used_cost == pytest.approx(1.8)
    assert ri1.unused_cost == pytest.approx(0.6)
    assert ri1.utilisation == pytest.approx(0.75)
    assert ri1.coverage == pytest.approx(0.5)
    # ri-2: used 3 × 0.6 = 1.8, unused (1 + 1 + 2 + 1) × 0.6 = 3.0 → 0.375; all eligible covered
    assert ri2.used_cost == pytest.approx(1.8)
    assert ri2.unused_cost == pytest.approx(3.0)
    assert ri2.utilisation == pytest.approx(0.375)
    assert ri2.coverage == pytest.approx(1.0)
    assert list(ri1.hourly_eligible_list_cost) == [2.0, 1.0, 0.0, 3.0]


def test_commitment_inventory_advice_by_hand(account):
    sync_from_line_items(DAY, DAY, account_ids=[account.pk])
    rows = {r.commitment.commitment_id: r for r in inventory(DAY, DAY, account_ids=[account.pk])}
    a1, a2 = rows["ri-1"].advice, rows["ri-2"].advice
    # discount ratio 1.8 / 3.0 = 0.6; ri-1 level (1.8 + 0.6) / 0.6 / 4 h = 1 instance.
    # Exact rule: demand sorted 3, 2, 1, 0; one more unit at level k saves 1, 2, 3, 4 × $1;
    # it pays when saving ≥ n·c = 4 × 0.6 = 2.4 → level = 3rd highest = 1 → renew as is.
    assert a1.discount_ratio == pytest.approx(0.6)
    assert a1.current_units_per_hour == pytest.approx(1.0)
    assert a1.recommended_units_per_hour == pytest.approx(1.0)
    assert a1.action == Action.RENEW
    # f(1) = 4 × 0.6 × 1 + (1 + 0 + 0 + 2) × 1.0 = 5.4 per 4 h → × 720 / 4 = 972 per 30 days
    assert a1.cost_current_per_30d == pytest.approx(972.0)
    # ri-2: level (1.8 + 3.0) / 0.6 / 4 = 2; demand 1, 1, 0, 1 → optimum 1 → renew smaller;
    # f(2) = 4.8, f(1) = 2.4 per 4 h → 864 vs 432 per 30 days, 432 saved
    assert a2.current_units_per_hour == pytest.approx(2.0)
    assert a2.recommended_units_per_hour == pytest.approx(1.0)
    assert a2.action == Action.RESIZE_DOWN
    assert a2.savings_per_30d == pytest.approx(432.0)
    c = Commitment.objects.get(commitment_id="ri-1")
    assert (c.name, c.commitment_type, c.category, c.account_id) == (
        "RI ri-1",
        "Reserved Instance",
        "Usage",
        account.pk,
    )
    assert sync_from_line_items(DAY, DAY, account_ids=[account.pk]) == 0  # idempotent


@pytest.fixture(scope="module")
def contract_file(tmp_path_factory):
    from focus_toolkit import generate

    out = generate(tmp_path_factory.mktemp("cc"), "aws", "1.3", rows=200, seed=11)
    return out / "focus_1_3_contract_commitment_aws.csv"


def test_commitment_inventory_stores_contract_commitment_dataset(contract_file):
    with contract_file.open() as f:
        expected = {r["ContractCommitmentId"]: r for r in csv.DictReader(f)}
    result = import_contract_commitments(contract_file)
    assert result.version == "1.3"
    assert result.created == len(expected) and result.updated == 0
    for cid, rec in expected.items():
        c = Commitment.objects.get(commitment_id=cid)
        assert c.period_end == dt.date.fromisoformat(rec["ContractCommitmentPeriodEnd"][:10])
        assert c.period_start == dt.date.fromisoformat(rec["ContractCommitmentPeriodStart"][:10])
        assert float(c.term_cost) == pytest.approx(float(rec["ContractCommitmentCost"]))
        assert c.commitment_type == rec["ContractCommitmentType"]
        assert c.contract_id == rec["ContractId"]
        assert "contract_commitment" in c.sources
    again = import_contract_commitments(contract_file)
    assert (again.created, again.updated) == (0, len(expected))
    assert Commitment.objects.filter(commitment_id__in=expected).count() == len(expected)


def test_commitment_inventory_refuses_other_dataset_and_leaves_nothing(tmp_path):
    from ingest.focus.errors import FocusValidationError

    bad = tmp_path / "cc.csv"
    bad.write_text(
        "ContractCommitmentId,ContractCommitmentType,ContractCommitmentCategory,"
        "ContractCommitmentCost,ContractCommitmentQuantity,ContractCommitmentUnit,"
        "ContractCommitmentDescription,ContractCommitmentPeriodStart,ContractCommitmentPeriodEnd,"
        "ContractId,ContractPeriodStart,ContractPeriodEnd,BillingCurrency\n"
        "cc-ok,Savings Plan,Spend,10,,,ok,2032-01-01T00:00:00Z,2033-01-01T00:00:00Z,K,"
        "2032-01-01T00:00:00Z,2033-01-01T00:00:00Z,USD\n"
        "cc-bad,Savings Plan,Spend,not-a-number,,,bad,2032-01-01T00:00:00Z,"
        "2033-01-01T00:00:00Z,K,2032-01-01T00:00:00Z,2033-01-01T00:00:00Z,USD\n"
    )
    with pytest.raises(FocusValidationError) as err:
        import_contract_commitments(bad)
    assert "ContractCommitmentCost" in str(err.value) and "row 2" in str(err.value)
    assert not Commitment.objects.filter(commitment_id__in=["cc-ok", "cc-bad"]).exists()


def test_commitment_inventory_expiry_alert_sent_once_per_term(settings):
    today = dt.date(2032, 6, 1)
    soon = Commitment.objects.create(
        commitment_id="exp-soon", name="Soon", period_end=today + dt.timedelta(days=10)
    )
    Commitment.objects.create(
        commitment_id="exp-late", name="Late", period_end=today + dt.timedelta(days=90)
    )
    own = Commitment.objects.create(
        commitment_id="exp-own",
        name="Own",
        period_end=today + dt.timedelta(days=50),
        expiry_alert_days=60,
    )
    ExpiryAlertRule.objects.create(name="FinOps", recipients="finops@example.com")
    settings.COMMITMENT_EXPIRY_ALERT_DAYS = 30
    mail.outbox.clear()
    assert alert_expiring(today) == 1
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "Soon" in body and "Own" in body and "Late" not in body  # 10 ≤ 30, 50 ≤ 60, 90 > 30
    assert "in 10 days" in body and mail.outbox[0].to == ["finops@example.com"]
    assert alert_expiring(today) == 0  # claimed: never twice for one term
    soon.period_end = today + dt.timedelta(days=5)  # a renewal moves the term: announced again
    soon.save()
    assert alert_expiring(today) == 1
    assert ExpiryNotice.objects.filter(commitment=own).count() == 1


def test_commitment_inventory_page_and_api(client, account):
    from planner.core.roles import VIEWER

    sync_from_line_items(DAY, DAY, account_ids=[account.pk])
    url = reverse("commitments") + "?start=2032-05-04&end=2032-05-04"
    assert client.get(url).status_code == 302  # login required
    user = make_user(VIEWER, "cm-viewer")
    client.force_login(user)
    page = client.get(url)
    assert page.status_code == 200
    assert b"ri-2" in page.content and b"renew smaller" in page.content
    api = client.get(reverse("api-commitments"), {"start": "2032-05-04", "end": "2032-05-04"})
    assert api.status_code == 200
    row = next(r for r in api.json() if r["commitment_id"] == "ri-1")
    assert row["utilisation"] == pytest.approx(0.75) and row["coverage"] == pytest.approx(0.5)
    assert row["advice"]["action"] == "renew as is"
    csv_resp = client.get(url + "&export=csv")
    assert b"ri-2" in b"".join(csv_resp.streaming_content)
    pq_resp = client.get(url + "&export=parquet")
    assert pq_resp.content[:4] == b"PAR1"
    assert (
        client.post(reverse("commitments-rule"), {"name": "x", "recipients": "a@b.c"}).status_code
        == 403
    )


def test_commitment_inventory_registers_commitments_after_an_ingest_run(
    tmp_path, django_capture_on_commit_callbacks
):
    """An ordinary FOCUS upload: once the run commits, the commitments its periods name are in
    the inventory (ingest_succeeded → sync task), without anyone opening a page."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from planner.billing import services
    from planner.core.demo import to_focus_batches

    acct = make_account(account_id="cm-run", name="Run")
    t = dt.datetime(2035, 7, 9, 3, tzinfo=dt.UTC)
    rec = {**DEFAULTS, **_hour(0, "g6.xlarge", "Committed", 2, "Used", "sp-after-run")}
    rec.update(
        ChargePeriodStart=t,
        ChargePeriodEnd=t + dt.timedelta(hours=1),
        BillingPeriodStart=dt.datetime(2035, 7, 1, tzinfo=dt.UTC),
        BillingPeriodEnd=dt.datetime(2035, 8, 1, tzinfo=dt.UTC),
        BilledCost=1.2,
        ListCost=2.0,
        ContractedCost=1.2,
        BillingAccountId="cm-run",
    )
    path = tmp_path / "run.parquet"
    pq.write_table(pa.Table.from_batches(to_focus_batches(pd.DataFrame([rec]))), path)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.execute_focus_run(
            services.create_run(acct, RunSource.FOCUS_FILE, str(path)).pk
        )
    assert run.status == "succeeded", run.errors
    c = Commitment.objects.get(commitment_id="sp-after-run")
    assert (c.account_id, c.commitment_type, c.sources) == (
        acct.pk,
        "Reserved Instance",
        ["line_items"],
    )
