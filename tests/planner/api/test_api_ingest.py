"""Triggering ingests through the API: a real upload goes through the real loader (Celery eager
in unit tests), and stored totals equal the generator's independently summed totals."""

from __future__ import annotations

import csv

import pytest
from django.db.models import Sum

from fixtures_gen.focus_files import write_focus_file
from planner.api.serializers import IngestRunSerializer
from planner.billing.models import BillingPeriodLoad, CostRollup, IngestRun, RunSource
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return make_account(provider="aws", account_id="api-test-upload-target", name="Upload target")


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """POST a file as a multipart ingest trigger; the queued task runs when the request's
    transaction commits (Celery eager), as it does in production after commit."""

    def post(client, account, path, **extra):
        with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as f:
            resp = client.post(
                "/api/v1/ingest-runs/",
                {"account": account.pk, "file": f, **extra},
                format="multipart",
            )
        return resp

    return post


def _run(resp) -> dict:
    return IngestRunSerializer(IngestRun.objects.get(pk=resp.json()["id"])).data


def test_analyst_uploads_a_focus_file_and_totals_match(analyst_api, upload, account, tmp_path):
    gen = write_focus_file(tmp_path / "jan.csv", rows=600, seed=11, periods=2)
    resp = upload(analyst_api, account, gen.path)
    assert resp.status_code == 202, resp.content
    run = IngestRun.objects.get(pk=resp.json()["id"])
    assert (
        run.status == "succeeded"
        and run.rows_stored == 600
        and run.created_by.username == "t-analyst"
    )
    billed = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    assert float(billed) == pytest.approx(gen.billed_cost_total, abs=1e-4)
    assert BillingPeriodLoad.objects.filter(account=account).count() == 2
    status = analyst_api.get(f"/api/v1/ingest-runs/{run.pk}/").json()
    assert (
        status["status"] == "succeeded"
        and status["rows_stored"] == 600
        and status["progress"] == 1.0
    )


def test_viewer_cannot_trigger(viewer_api, upload, account, tmp_path):
    gen = write_focus_file(tmp_path / "a.csv", rows=10, seed=1)
    before = IngestRun.objects.count()
    resp = upload(viewer_api, account, gen.path)
    assert resp.status_code == 403 and "analyst" in resp.json()["detail"]
    assert IngestRun.objects.count() == before


def test_bad_file_fails_the_run_with_row_and_column_and_keeps_data(
    analyst_api, upload, account, tmp_path
):
    good = write_focus_file(tmp_path / "good.csv", rows=50, seed=2)
    assert upload(analyst_api, account, good.path).status_code == 202
    before = CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"]
    with open(good.path, newline="") as f:
        rows = list(csv.reader(f))
    rows[5][rows[0].index("BilledCost")] = "abc"  # data row 5 (the header is row 0)
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    resp = upload(analyst_api, account, bad)
    assert resp.status_code == 202
    run = _run(resp)
    assert run["status"] == "failed"
    assert any(
        "row 5, column BilledCost: 'abc' is not a decimal number" in e for e in run["errors"]
    )
    assert CostRollup.objects.filter(account=account).aggregate(v=Sum("billed_cost"))["v"] == before


@pytest.mark.parametrize(
    "name,msg", [("costs.xlsx", "Upload a FOCUS export"), ("notes.txt", "Upload a FOCUS")]
)
def test_wrong_file_type_is_400(analyst_api, upload, account, tmp_path, name, msg):
    p = tmp_path / name
    p.write_text("x")
    resp = upload(analyst_api, account, p)
    assert resp.status_code == 400 and msg in resp.json()["file"][0]


def test_upload_size_limit(analyst_api, upload, account, tmp_path, settings):
    settings.HEADROOM_MAX_UPLOAD_MB = 0
    gen = write_focus_file(tmp_path / "a.csv", rows=20, seed=1)
    resp = upload(analyst_api, account, gen.path)
    assert resp.status_code == 400 and "larger than the 0 MB limit" in resp.json()["file"][0]


def test_account_without_source_needs_a_file(analyst_api, account):
    resp = analyst_api.post("/api/v1/ingest-runs/", {"account": account.pk}, format="json")
    assert resp.status_code == 400 and "no FOCUS source configured" in resp.json()["file"][0]


def test_configured_source_is_read_and_active_run_conflicts(
    analyst_api, account, tmp_path, django_capture_on_commit_callbacks
):
    gen = write_focus_file(tmp_path / "src.csv", rows=30, seed=5)
    account.source_uri = str(gen.path)
    account.save()
    with django_capture_on_commit_callbacks(execute=True):
        resp = analyst_api.post("/api/v1/ingest-runs/", {"account": account.pk}, format="json")
    assert resp.status_code == 202 and _run(resp)["rows_stored"] == 30
    # a run already queued for the same account and period is refused with 409
    IngestRun.objects.create(
        account=account, source=RunSource.FOCUS_FILE, period_start="2026-01-01", status="queued"
    )
    from planner.billing import services

    with pytest.raises(services.RunAlreadyActive):
        services.create_run(account, RunSource.FOCUS_FILE, str(gen.path), period_start="2026-01-01")


def test_runs_list_filters_by_status(viewer_api, account):
    IngestRun.objects.create(account=account, source=RunSource.FOCUS_FILE, status="failed")
    IngestRun.objects.create(account=account, source=RunSource.FOCUS_FILE, status="succeeded")
    body = viewer_api.get(
        "/api/v1/ingest-runs/", {"status": "failed", "account": account.pk}
    ).json()
    assert body["count"] == 1 and body["results"][0]["status"] == "failed"
    assert viewer_api.get("/api/v1/ingest-runs/", {"status": "nope"}).status_code == 400


def test_requeue_sweep_resends_runs_whose_message_was_lost(account, tmp_path, settings):
    """A run left 'queued' (its message lost with the broker) is sent again by the beat sweep
    and loads once; a fresh queued run is left alone."""
    import datetime as dt

    from django.utils import timezone

    from planner.billing.tasks import requeue_stalled_focus_runs

    settings.INGEST_REQUEUE_AFTER_S = 60
    gen = write_focus_file(tmp_path / "lost.csv", rows=25, seed=9)
    lost = IngestRun.objects.create(
        account=account, source=RunSource.FOCUS_FILE, source_uri=str(gen.path)
    )
    IngestRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    fresh = IngestRun.objects.create(
        account=account, source=RunSource.FOCUS_FILE, source_uri=str(gen.path)
    )
    assert requeue_stalled_focus_runs() == 1  # Celery eager: the resent task runs here
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == "succeeded" and lost.rows_stored == 25 and fresh.status == "queued"
    assert requeue_stalled_focus_runs() == 0
