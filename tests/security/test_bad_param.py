"""Bad parameters and redirects (issue 13, item 10): malformed ids are a 400 that says what was
wrong, "run now" without a broker records a failing connector on the run instead of a 500, and
recommendation_decide only redirects to this site."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from planner.billing.models import IngestRun
from planner.core.models import Service
from planner.whatif.models import Recommendation
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url,name",
    [
        ("/?account=abc", "account"),
        ("/?account=1%20OR%201=1", "account"),
        ("/?account=-1", "account"),
        ("/whatif/?recommendation=abc", "recommendation"),
        ("/whatif/?recommendation=1.5", "recommendation"),
    ],
)
def test_bad_param_is_a_400_naming_it(viewer_client, url, name):
    resp = viewer_client.get(url)
    assert resp.status_code == 400
    page = resp.content.decode()
    assert f"The {name} parameter must be a whole number (an id)" in page


def test_bad_param_good_ids_still_work(viewer_client):
    assert viewer_client.get("/?account=1").status_code == 200
    assert viewer_client.get("/?account=").status_code == 200
    assert viewer_client.get("/whatif/?recommendation=999999").status_code == 404


def test_bad_param_markup_in_the_value_is_escaped(viewer_client):
    page = viewer_client.get("/?account=<script>x</script>").content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


@pytest.fixture
def rec():
    return Recommendation.objects.create(
        kind="spot-share",
        service=Service.objects.order_by("pk").first(),
        title="t",
        monthly_savings_usd=Decimal(1),
        confidence=0.5,
        slo_risk="low",
        evidence_start=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
        evidence_end=dt.datetime(2026, 9, 2, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/phish", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_bad_param_decide_next_offsite_is_ignored(analyst_client, rec, target):
    url = reverse("recommendation-decide", args=[rec.pk])
    resp = analyst_client.post(url, {"status": "accepted", "reason": "fine", "next": target})
    assert resp.status_code == 302 and resp["Location"] == reverse("recommendations")


def test_bad_param_decide_next_on_site_is_followed(analyst_client, rec):
    url = reverse("recommendation-decide", args=[rec.pk])
    resp = analyst_client.post(url, {"status": "accepted", "reason": "fine", "next": "/services/"})
    assert resp.status_code == 302 and resp["Location"] == "/services/"


def test_bad_param_run_now_of_unreachable_account_without_broker_is_not_a_500(
    analyst_client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    """No broker (eager tasks), an account whose endpoint refuses: the transient failure is
    recorded on the runs, the page redirects with a message, nothing raises."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip(
            "the no-broker (eager) path: with a broker the run is the worker's (make test covers it)"
        )
    for k, v in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # discard port: connection refused
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }.items():
        monkeypatch.setenv(k, v)
    account = make_account(
        provider="aws", account_id="bad-param-ce", name="ce", source="aws_cost_explorer"
    )
    with django_capture_on_commit_callbacks(execute=True):
        resp = analyst_client.post(reverse("account-run", args=[account.pk]))
    assert resp.status_code == 302
    runs = list(IngestRun.objects.filter(account=account))
    assert runs and all(r.status == "failed" for r in runs)
    assert "gave up after repeated transient failures" in runs[0].errors[0]
