"""Credential references (issue 13, item 1): an account may only name a declared HEADROOM_CRED_*
variable, and the value of a credential never reaches a response, a log record or a row.

The SDKs are real; their network boundaries are local: AWS fails on the unknown profile before
any call, Google on the missing key file, Azure's managed identity asks a local token server
(App Service protocol, ``IDENTITY_ENDPOINT``) that refuses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from http.server import BaseHTTPRequestHandler

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from planner.billing.models import IngestRun
from planner.core.models import CloudAccount
from tests.factories import make_account
from tests.ingest.local_servers import serve
from tests.planner.api.conftest import token_client

MARKER = "sk-marker-7f3a9c1e-credential-value"


class RefusingTokenServer(BaseHTTPRequestHandler):
    """A managed-identity endpoint that refuses, quoting the request (client id included)."""

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        body = json.dumps(
            {"error": "invalid_request", "error_description": f"no identity for {self.path}"}
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize(
    "name", ["SECRET_KEY", "DATABASE_URL", "EMAIL_HOST_PASSWORD", "AWS_SECRET_ACCESS_KEY"]
)
def test_credential_ref_naming_a_server_secret_is_refused(admin_user, name):
    body = {"provider": "aws", "account_id": "999988887777", "name": "x", "credential_ref": name}
    resp = token_client(admin_user).post("/api/v1/accounts/", body, format="json")
    assert resp.status_code == 400
    why = resp.json()["credential_ref"][0]
    assert "HEADROOM_CRED_" in why and "SECRET_KEY" in why  # says which names are allowed
    assert not CloudAccount.objects.filter(account_id="999988887777").exists()


def test_credential_ref_stored_around_the_api_is_refused_at_run_time(db):
    from ingest.retry import AuthError
    from planner.billing.connectors import credential_value

    account = CloudAccount(provider="aws", account_id="1", name="x", credential_ref="SECRET_KEY")
    with pytest.raises(AuthError, match="refused") as err:
        credential_value(account)
    assert "dev-only" not in str(err.value)
    with pytest.raises(Exception, match="HEADROOM_CRED_"):
        account.full_clean()


KINDS = [
    ("aws", "aws_export", "s3://headroom-bucket/cur"),
    ("aws", "aws_cost_explorer", ""),
    ("azure", "azure_query", ""),
    ("azure", "azure_export", "https://127.0.0.1:1/acct/exports/focus"),
    ("gcp", "gcp_bigquery", "infer-prod.billing.gcp_billing_export_v1_01"),
]


@pytest.mark.parametrize("provider,source,uri", KINDS, ids=[k[1] for k in KINDS])
def test_credential_value_never_leaves_the_process(
    analyst, monkeypatch, caplog, django_capture_on_commit_callbacks, provider, source, uri
):
    monkeypatch.setenv("HEADROOM_CRED_MARKER", MARKER)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setattr(settings, "AZURE_ARM_ENDPOINT", "https://127.0.0.1:1")
    monkeypatch.setattr(settings, "GCP_BIGQUERY_ENDPOINT", "http://127.0.0.1:1")
    caplog.set_level(logging.DEBUG)
    account = make_account(
        provider=provider,
        account_id=f"leak-{source}",
        name=f"leak {source}",
        source=source,
        source_uri=uri,
        credential_ref="HEADROOM_CRED_MARKER",
    )
    client = token_client(analyst)
    client.force_login(analyst)
    with serve(RefusingTokenServer) as (url, _):
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"{url}/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", "local-test")
        tested = client.post(reverse("account-test", args=[account.pk]))
        with (
            time_machine.travel(dt.datetime(2026, 9, 20, 12, tzinfo=dt.UTC), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            client.post(reverse("account-run", args=[account.pk]))
    assert tested.status_code == 200
    section = tested.content.decode().split('id="connection-test"')[1]
    assert "badge failed" in section and MARKER not in section
    runs = list(IngestRun.objects.filter(account=account).values())
    assert runs and all(r["status"] == "failed" for r in runs), runs
    assert MARKER not in json.dumps(runs, default=str)
    listing = client.get("/api/v1/ingest-runs/", {"account": account.pk})
    assert listing.status_code == 200 and MARKER not in listing.content.decode()
    page = client.get(reverse("ingest-run", args=[runs[0]["id"]]))
    assert MARKER not in page.content.decode()
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records) + caplog.text
    assert MARKER not in logged


def test_credential_scrubbing_names_the_variable(monkeypatch):
    from planner.core.credentials import scrub

    monkeypatch.setenv("HEADROOM_CRED_MARKER", MARKER)
    text = scrub(f"ProfileNotFound: The config profile ({MARKER}) could not be found")
    assert text == (
        "ProfileNotFound: The config profile ([value of HEADROOM_CRED_MARKER]) could not be found"
    )
