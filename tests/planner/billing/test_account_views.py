"""The accounts page: list, "test connection" (what Headroom can read) and "run now" for analysts."""

from __future__ import annotations

import boto3
import pytest
import time_machine
from django.urls import reverse

from planner.billing.models import BillingPeriodLoad, IngestRun
from tests.factories import make_account
from tests.ingest.aws_data import BUCKET, cur_table, moto_endpoint, parquet_bytes, put_data_export


@pytest.fixture(scope="module")
def moto_s3():
    with moto_endpoint():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        put_data_export(s3, "views", "gpu-cur", 9, parquet_bytes(cur_table(9)))
        yield s3


@pytest.fixture
def account(db):
    return make_account(
        account_id="views-0001",
        name="GPU prod",
        source="aws_export",
        source_uri=f"s3://{BUCKET}/views",
    )


def test_viewer_sees_accounts_but_no_actions(viewer_client, account):
    page = viewer_client.get(reverse("accounts"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "GPU prod" in text and f"s3://{BUCKET}/views" in text and "default-chain" in text
    assert "Test connection" not in text
    assert viewer_client.post(reverse("account-test", args=[account.pk])).status_code == 403
    assert viewer_client.post(reverse("account-run", args=[account.pk])).status_code == 403


def test_connection_test_shows_what_headroom_can_read(analyst_client, account, moto_s3):
    text = analyst_client.post(reverse("account-test", args=[account.pk])).content.decode()
    assert "Connection test: GPU prod" in text
    assert "1 billing period(s): 2026-09" in text
    assert "readable CUR 2.0 Parquet" in text
    section = text[text.index('id="connection-test"') :].split("</section>")[0]
    assert (
        section.count("badge succeeded") == 3 and "badge failed" not in section
    )  # identity, manifests, data file


def test_connection_test_reports_a_missing_credential_variable(
    analyst_client, account, monkeypatch
):
    monkeypatch.delenv("HEADROOM_CRED_TEST_PROFILE", raising=False)
    account.credential_ref = "HEADROOM_CRED_TEST_PROFILE"
    account.save()
    text = analyst_client.post(reverse("account-test", args=[account.pk])).content.decode()
    section = text[text.index('id="connection-test"') :].split("</section>")[0]
    assert (
        "badge failed" in section
        and "HEADROOM_CRED_TEST_PROFILE" in section
        and "not set" in section
    )


def test_run_now_queues_and_loads_due_periods(
    analyst_client, account, moto_s3, django_capture_on_commit_callbacks
):
    import datetime as dt

    with (
        time_machine.travel(dt.datetime(2026, 9, 20, 12, tzinfo=dt.UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = analyst_client.post(reverse("account-run", args=[account.pk]))
    assert response.status_code == 302
    run = IngestRun.objects.get(account=account)
    assert run.period_start == dt.date(2026, 9, 1) and run.status == "succeeded", run.errors
    assert run.created_by.username == "t-analyst"
    assert BillingPeriodLoad.objects.filter(account=account).count() == 1
    page = analyst_client.get(reverse("accounts")).content.decode()
    assert f"#{run.pk}" in page and "badge succeeded" in page
