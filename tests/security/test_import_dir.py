"""Local FOCUS sources (issue 13, item 5): a FOCUS-file account may only name files below
HEADROOM_IMPORT_DIR (symlinks resolved), and an error about a file that is not FOCUS never
echoes its first line (an .env file's ``DB_PASSWORD=...`` was shown to a viewer)."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ValidationError

from planner.billing.models import IngestRun
from planner.core.models import CloudAccount
from tests.factories import make_account
from tests.planner.api.conftest import token_client

MARKER = "hunter2-import-dir-marker-5b1e"


@pytest.fixture
def layout(tmp_path, settings):
    """tmp/imports is the import directory; tmp/app/.env is a server secret beside it."""
    imports = tmp_path / "imports"
    imports.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    env = app / ".env"
    env.write_text(f"DB_PASSWORD={MARKER}\nSECRET_KEY={MARKER}2\n")
    settings.IMPORT_DIR = imports
    return imports, env


def _account(**kw) -> CloudAccount:
    defaults = {"provider": "aws", "account_id": "import-dir-test", "name": "files"}
    return make_account(**{**defaults, **kw})


def test_import_dir_api_refuses_paths_outside(admin_user, layout):
    imports, env = layout
    (imports / "link.csv").symlink_to(env)
    api = token_client(admin_user)
    for uri, why in [
        (str(env), "is outside it"),
        ("/etc/passwd", "is outside it"),
        (str(imports / ".." / "app" / ".env"), "is outside it"),
        ("../app/.env", "is outside it"),
        (str(imports / "link.csv"), "outside it once links are followed"),
        ("file:///etc/passwd", "not file:// sources"),
    ]:
        body = {"provider": "aws", "account_id": "1", "name": "x", "source_uri": uri}
        resp = api.post("/api/v1/accounts/", body, format="json")
        assert resp.status_code == 400, uri
        message = resp.json()["source_uri"][0]
        assert why in message and "HEADROOM_IMPORT_DIR" in message, (uri, message)
    assert not CloudAccount.objects.filter(account_id="1").exists()


def test_import_dir_api_accepts_files_below_and_s3(admin_user, layout):
    imports, _ = layout
    (imports / "2026").mkdir()
    api = token_client(admin_user)
    for n, uri in enumerate([str(imports / "2026" / "focus.csv"), "2026/focus.csv", "s3://b/k"]):
        body = {"provider": "aws", "account_id": f"ok{n}", "name": "x", "source_uri": uri}
        resp = api.post("/api/v1/accounts/", body, format="json")
        assert resp.status_code == 201, (uri, resp.content)


def test_import_dir_model_validation_refuses_outside(db, layout):
    _, env = layout
    account = CloudAccount(provider="aws", account_id="1", name="x", source_uri=str(env))
    with pytest.raises(ValidationError, match="HEADROOM_IMPORT_DIR"):
        account.full_clean()


def test_import_dir_run_of_a_path_stored_around_the_api_is_refused(
    analyst, viewer, layout, django_capture_on_commit_callbacks
):
    """A row written before the rule (or by the shell) still cannot read outside the directory."""
    _, env = layout
    account = _account(source_uri=str(env))
    with django_capture_on_commit_callbacks(execute=True):
        resp = token_client(analyst).post("/api/v1/ingest-runs/", {"account": account.pk})
    assert resp.status_code == 202
    run = IngestRun.objects.get(pk=resp.json()["id"])
    assert run.status == "failed"
    assert "below the import directory" in run.errors[0] and "HEADROOM_IMPORT_DIR" in run.errors[0]
    listing = token_client(viewer).get("/api/v1/ingest-runs/").content.decode()
    assert MARKER not in listing and MARKER not in str(run.errors)


def test_import_dir_symlink_swapped_after_validation_is_refused_at_run(
    analyst, layout, django_capture_on_commit_callbacks
):
    imports, env = layout
    link = imports / "focus.csv"
    link.write_text("placeholder")
    account = _account(source_uri=str(link))
    account.full_clean()  # a plain file below the directory: accepted
    link.unlink()
    os.symlink(env, link)  # now it points at the secret
    with django_capture_on_commit_callbacks(execute=True):
        resp = token_client(analyst).post("/api/v1/ingest-runs/", {"account": account.pk})
    run = IngestRun.objects.get(pk=resp.json()["id"])
    assert run.status == "failed" and "once links are followed" in run.errors[0]
    assert MARKER not in str(run.errors)


def test_import_dir_non_focus_file_inside_is_not_echoed(
    analyst, viewer, layout, django_capture_on_commit_callbacks, client
):
    """Even a file that may be read is never quoted when it is not FOCUS."""
    imports, env = layout
    inside = imports / "copied.env"
    inside.write_text(env.read_text())
    account = _account(source_uri=str(inside))
    with django_capture_on_commit_callbacks(execute=True):
        resp = token_client(analyst).post("/api/v1/ingest-runs/", {"account": account.pk})
    run = IngestRun.objects.get(pk=resp.json()["id"])
    assert run.status == "failed"
    assert "not a FOCUS billing file" in run.errors[0]
    assert "its first line has 1 field, FOCUS columns among them: none" in run.errors[0]
    assert "DB_PASSWORD" not in str(run.errors) and MARKER not in str(run.errors)
    client.force_login(viewer)
    page = client.get(f"/ingest/runs/{run.pk}/").content.decode()
    assert "not a FOCUS billing file" in page and MARKER not in page and "DB_PASSWORD" not in page
