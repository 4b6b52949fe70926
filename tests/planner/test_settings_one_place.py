"""Settings in one place: the environment is read only in settings.py / env.py, a malformed
value fails at start-up, and EXTERNAL_CALL_TIMEOUT_S reaches every connector's client."""

import re

import pytest
from django.conf import settings

from planner.billing.connectors import build_connector
from tests.conftest import REPO
from tests.factories import make_account
from tests.planner.test_settings import _manage

ENV_READ = re.compile(r"os\.environ|os\.getenv|getenv\(")
#: Django's own bootstrap line (a default for the settings module, not a setting).
BOOTSTRAP = 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planner.settings")'


def test_the_environment_is_read_only_in_settings_and_env():
    offenders = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in sorted((REPO / "planner").rglob("*.py"))
        if path.name not in ("settings.py", "env.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ENV_READ.search(line) and line.strip() != BOOTSTRAP
    ]
    assert offenders == []


#: costmodels' process-wide BLAS thread defaults (set before numpy loads; not a Headroom setting).
BLAS_THREAD_DEFAULT = 'os.environ.setdefault(_var, "1")'


def test_ingest_and_costmodels_read_no_setting_from_the_environment():
    """They import no Django, so their settings arrive as parameters (timeouts, endpoints)."""
    offenders = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for package in ("ingest", "costmodels")
        for path in sorted((REPO / package).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ENV_READ.search(line) and line.strip() != BLAS_THREAD_DEFAULT
    ]
    assert offenders == []


def test_no_setting_is_read_with_a_repeated_default():
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "planner").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "getattr(settings," in line
    ]
    assert offenders == []


def test_malformed_promql_overrides_fail_at_start_up_naming_the_variable():
    proc = _manage("check", HEADROOM_PROMQL_OVERRIDES='{"chat": "not an object"}')
    assert proc.returncode != 0
    assert "HEADROOM_PROMQL_OVERRIDES" in proc.stderr
    proc = _manage("check", HEADROOM_PROMQL_OVERRIDES="{not json")
    assert proc.returncode != 0 and "HEADROOM_PROMQL_OVERRIDES is not valid JSON" in proc.stderr


@pytest.mark.django_db
@pytest.mark.parametrize(
    "provider,source,uri",
    [
        ("aws", "aws_export", "s3://headroom-bucket/cur"),
        ("aws", "aws_cost_explorer", ""),
        ("azure", "azure_query", ""),
        ("azure", "azure_export", "https://acct.blob.core.windows.net/exports/focus"),
        ("gcp", "gcp_bigquery", "infer-prod.billing.gcp_billing_export_v1_01"),
    ],
)
def test_external_call_timeout_reaches_every_connector(monkeypatch, provider, source, uri):
    monkeypatch.setattr(settings, "EXTERNAL_CALL_TIMEOUT_S", 7.5)
    account = make_account(
        provider=provider, account_id=f"t-{source}", name=source, source=source, source_uri=uri
    )
    assert build_connector(account).client.policy.timeout_s == 7.5


def test_external_call_timeout_reaches_the_plans_aws_client(monkeypatch):
    from planner.plans.aws_client import ApplicationAutoScalingClient

    monkeypatch.setattr(settings, "EXTERNAL_CALL_TIMEOUT_S", 4.5)
    config = ApplicationAutoScalingClient("us-east-1", "http://127.0.0.1:1")._c.meta.config
    assert (config.connect_timeout, config.read_timeout) == (4.5, 4.5)


def test_external_call_timeout_reaches_the_prometheus_client(monkeypatch):
    from planner.usage.tasks import prometheus_client

    monkeypatch.setattr(settings, "EXTERNAL_CALL_TIMEOUT_S", 3.5)
    monkeypatch.setattr(settings, "PROMETHEUS_URL", "http://127.0.0.1:1")
    assert prometheus_client().policy.timeout_s == 3.5


def test_external_call_timeout_reaches_s3_object_reads(monkeypatch):
    """FOCUS files and datasets read by URI (s3://) use the same timeout as the connectors."""
    from ingest.sources import s3_reader
    from planner.billing.runs import object_read_options

    monkeypatch.setattr(settings, "EXTERNAL_CALL_TIMEOUT_S", 6.5)
    aws = s3_reader(object_read_options())
    config = aws.client("s3").meta.config
    assert aws.policy.timeout_s == 6.5
    assert (config.connect_timeout, config.read_timeout) == (6.5, 6.5)
