"""Google Cloud and Azure accounts end to end: credentials from each SDK's default chain or a named
environment variable, the scheduler, the connector, the loader. The provider APIs are local
servers speaking their documented protocols (see tests/ingest/test_gcp_connectors.py and
test_azure_connectors.py); the SDKs, database, Celery (eager) and line-item store are real."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
import time_machine
from django.conf import settings

from planner.billing import scheduling
from planner.billing.models import BillingPeriodLoad, IngestRun, RunStatus
from tests.factories import make_account

SEP = dt.date(2026, 9, 1)


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def _service_account_file(path, token_uri: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "infer-prod",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "headroom@infer-prod.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))


@pytest.mark.django_db
def test_gcp_account_runs_end_to_end_with_credentials_named_by_an_environment_variable(
    tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    """credential_ref names an env var holding a service-account file; BigQuery is a local server."""
    from tests.ingest.local_servers import serve
    from tests.ingest.test_gcp_connectors import STANDARD_BILLED, FakeGoogle

    with serve(FakeGoogle) as (url, _):
        _service_account_file(tmp_path / "sa.json", f"{url}/token")
        monkeypatch.setenv("HEADROOM_CRED_TEST_GCP_SA", str(tmp_path / "sa.json"))
        monkeypatch.setattr(settings, "GCP_BIGQUERY_ENDPOINT", url)
        account = make_account(
            provider="gcp",
            account_id="infer-prod",
            name="GenAI",
            source="gcp_bigquery",
            source_uri="infer-prod.billing.gcp_billing_export_resource_v1_01A2B3",
            credential_ref="HEADROOM_CRED_TEST_GCP_SA",
        )
        FakeGoogle.query_calls = []
        with django_capture_on_commit_callbacks(execute=True):
            run_ids = scheduling.queue_account(
                account, dt.datetime(2026, 9, 20, tzinfo=dt.UTC), backfill=False
            )
        run = IngestRun.objects.get(pk=run_ids[0])
        assert run.status == RunStatus.SUCCEEDED, run.errors
        assert FakeGoogle.query_calls == ["standard"]
        load = BillingPeriodLoad.objects.get(account=account, billing_period_start=SEP)
        assert math.isclose(float(load.billed_cost), STANDARD_BILLED, abs_tol=1e-6)
        assert (
            run.source_uri
            == "bq://infer-prod.billing.gcp_billing_export_resource_v1_01A2B3/2026-09"
        )

        from planner.billing.connectors import test_connection

        checks = test_connection(account)
        assert checks[0].ok and "detailed usage cost export" in checks[0].detail
    monkeypatch.delenv("HEADROOM_CRED_TEST_GCP_SA")
    failed = test_connection(account)
    assert not failed[0].ok and "HEADROOM_CRED_TEST_GCP_SA" in failed[0].detail


@pytest.mark.django_db
def test_azure_account_runs_end_to_end_with_the_default_credential_chain(
    monkeypatch, django_capture_on_commit_callbacks
):
    """DefaultAzureCredential finds a managed identity (App Service style endpoint) — no secret anywhere."""
    from tests.ingest.local_servers import serve
    from tests.ingest.test_azure_connectors import BILLED, EFFECTIVE, SCOPE, FakeAzure

    with serve(FakeAzure, tls=True) as (url, ca):
        for var in (
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE",
            "MSI_ENDPOINT",
        ):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"{url}/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", "identity-secret")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
        monkeypatch.setattr(settings, "AZURE_ARM_ENDPOINT", url)
        account = make_account(
            provider="azure",
            account_id="sub-1",
            name="AI sub",
            source="azure_query",
            source_uri=SCOPE,
        )
        FakeAzure.mode, FakeAzure.query_calls = "ok", []
        with (
            time_machine.travel(dt.datetime(2026, 9, 30, 12, tzinfo=dt.UTC), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            run_ids = scheduling.queue_account(
                account, dt.datetime(2026, 9, 30, 12, tzinfo=dt.UTC), backfill=False
            )
        run = IngestRun.objects.get(pk=run_ids[0])
        assert run.status == RunStatus.SUCCEEDED, run.errors
        assert FakeAzure.query_calls == [
            "ActualCost",
            "ActualCost",
            "AmortizedCost",
            "AmortizedCost",
        ]
        load = BillingPeriodLoad.objects.get(account=account, billing_period_start=SEP)
        assert math.isclose(float(load.billed_cost), BILLED) and math.isclose(
            float(load.effective_cost), EFFECTIVE
        )
