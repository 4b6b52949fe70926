"""Uploads (issue 13, item 9): a hard limit enforced while the body streams in (the rest is never
read), owner-only files and directories, and uploads deleted after their run (failed ones kept
HEADROOM_UPLOAD_KEEP_FAILED_DAYS days)."""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIRequest
from django.utils import timezone

from fixtures_gen.focus_files import write_focus_file
from planner.billing.models import IngestRun
from planner.billing.uploads import purge_uploads
from tests.factories import make_account
from tests.planner.api.conftest import token_client

MiB = 1024 * 1024
BOUNDARY = "----headroomtestboundary"


class CountingInput(io.BytesIO):
    """wsgi.input that records how many bytes the server read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size=-1):
        data = super().read(size)
        self.consumed += len(data)
        return data


def multipart(file_bytes: bytes, name: str = "big.csv") -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="account"\r\n\r\n1\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + file_bytes
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _request(body: bytes, declared: int | None = None) -> tuple[WSGIRequest, CountingInput]:
    stream = CountingInput(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/ingest/upload/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": stream,
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(len(body) if declared is None else declared),
    }
    return WSGIRequest(environ), stream


@pytest.fixture
def one_mb(settings):
    settings.HEADROOM_MAX_UPLOAD_MB = 1
    return MiB


def test_upload_limit_stops_reading_the_body_when_declared_too_large(one_mb):
    body = multipart(b"x" * (8 * MiB))
    request, stream = _request(body)
    assert "file" not in request.FILES
    assert "larger than the 1 MB limit" in request.upload_refused
    assert stream.consumed < 512 * 1024, stream.consumed  # the 8 MiB were never read


def test_upload_limit_counts_streamed_bytes_just_over_the_limit(one_mb):
    """A body whose declared length is within the multipart slack is stopped by the byte count,
    before the end of the file is read."""
    body = multipart(b"x" * (MiB + 48 * 1024) + b"TAIL" * 4096)
    request, stream = _request(body)
    assert "file" not in request.FILES
    assert "larger than the 1 MB limit" in request.upload_refused
    assert stream.consumed < len(body)


def test_upload_limit_under_the_limit_is_parsed(one_mb):
    request, _ = _request(multipart(b"a,b\n1,2\n" * 1000))
    assert request.FILES["file"].size == 8000
    assert not hasattr(request, "upload_refused")


@pytest.mark.django_db
def test_upload_limit_page_and_api_refuse_with_the_limit(
    analyst, analyst_client, one_mb, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.UPLOAD_STORE = str(settings.UPLOAD_DIR)
    account = make_account(account_id="up-limit", name="uploads")
    big = SimpleUploadedFile("big.csv", b"x" * (2 * MiB), "text/csv")
    page = analyst_client.post(
        "/ingest/upload/", {"account": account.pk, "file": big}, follow=True
    ).content.decode()
    assert "larger than the 1 MB limit (HEADROOM_MAX_UPLOAD_MB)" in page
    big = SimpleUploadedFile("big.csv", b"x" * (2 * MiB), "text/csv")
    resp = token_client(analyst).post(
        "/api/v1/ingest-runs/", {"account": account.pk, "file": big}, format="multipart"
    )
    assert resp.status_code == 400 and "1 MB limit" in resp.json()["file"][0]
    assert not IngestRun.objects.filter(account=account).exists()
    uploads = Path(settings.UPLOAD_DIR)
    assert not uploads.exists() or not any(uploads.iterdir())  # nothing was stored


@pytest.mark.django_db
def test_upload_limit_uploads_deleted_after_run_failed_ones_kept_then_purged(
    analyst, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.UPLOAD_STORE = str(settings.UPLOAD_DIR)
    settings.UPLOAD_KEEP_FAILED_DAYS = 7
    account = make_account(account_id="up-del", name="uploads")
    good = write_focus_file(tmp_path / "good.csv", version="1.2", rows=20, seed=2)
    api = token_client(analyst)

    def send(name: str, data: bytes) -> IngestRun:
        with django_capture_on_commit_callbacks(execute=True):
            resp = api.post(
                "/api/v1/ingest-runs/",
                {"account": account.pk, "file": SimpleUploadedFile(name, data, "text/csv")},
                format="multipart",
            )
        assert resp.status_code == 202, resp.content
        return IngestRun.objects.get(pk=resp.json()["id"])

    ok = send("good.csv", good.path.read_bytes())
    assert ok.status == "succeeded"
    assert not Path(ok.source_uri).exists()  # loaded: deleted
    bad = send("bad.csv", b"date,amount\n2026-01-01,3\n")
    assert bad.status == "failed"
    kept = Path(bad.source_uri)
    assert kept.exists()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.UPLOAD_DIR.stat().st_mode) == 0o700
    assert purge_uploads(timezone.now() + dt.timedelta(days=6)) == 0 and kept.exists()
    assert purge_uploads(timezone.now() + dt.timedelta(days=8)) == 1 and not kept.exists()


def test_upload_limit_var_dir_created_owner_only(tmp_path):
    var = tmp_path / "fresh-var"
    env = {**os.environ, "HEADROOM_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "planner.settings"}
    subprocess.run(
        [sys.executable, "-c", "import planner.settings"], env=env, check=True, timeout=120
    )
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
