"""Azure export hosts (issue 13, item 6): the Blob client sends the managed identity's bearer
token to the export location's host, so only Azure Storage hosts (public and sovereign clouds)
or the configured test endpoint are ever contacted."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from ingest.azure import AzureClient, AzureExportConnector, split_blob_url
from ingest.errors import ConnectorError
from ingest.retry import RetryPolicy
from tests.ingest.local_servers import serve
from tests.ingest.test_azure_connectors import StaticToken


class TokenCatcher(BaseHTTPRequestHandler):
    """An attacker's server: records every Authorization header it is sent."""

    seen: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        TokenCatcher.seen.append(self.headers.get("Authorization", ""))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def catcher():
    TokenCatcher.seen = []
    with serve(TokenCatcher, tls=True) as (url, ca):
        yield url, ca


def _client(ca, test_endpoint=None) -> AzureClient:
    return AzureClient(
        StaticToken(),
        policy=RetryPolicy(attempts=1, base_s=0.0, sleep=lambda s: None),
        connection_verify=ca,
        blob_test_endpoint=test_endpoint,
    )


def test_azure_host_unlisted_host_gets_no_token(catcher):
    url, ca = catcher
    with pytest.raises(ConnectorError, match="HEADROOM_AZURE_BLOB_TEST_ENDPOINT"):
        AzureExportConnector(f"{url}/acct/exports/focus", _client(ca))
    with pytest.raises(ConnectorError, match="only over https from Azure Storage hosts"):
        _client(ca).list_blobs(f"{url}/acct", "exports", "focus/")  # below the connector too
    assert TokenCatcher.seen == []


def test_azure_host_configured_test_endpoint_is_contacted(catcher):
    """The control: with the endpoint configured the same call reaches the server with the token
    (so the test above would have caught a leak)."""
    url, ca = catcher
    conn = AzureExportConnector(f"{url}/acct/exports/focus", _client(ca, test_endpoint=url))
    with pytest.raises(Exception):  # noqa: B017 - the catcher answers 404
        conn.discover()
    assert TokenCatcher.seen and TokenCatcher.seen[0] == "Bearer test-token"


def test_azure_host_other_port_than_the_test_endpoint_is_refused(catcher):
    url, ca = catcher
    host, port = url.rsplit(":", 1)
    with pytest.raises(ConnectorError):
        AzureExportConnector(f"{url}/acct/exports/focus", _client(ca, f"{host}:{int(port) + 1}"))


@pytest.mark.parametrize(
    "url",
    [
        "https://acct.blob.core.windows.net/exports/focus",
        "https://acct.z12.blob.storage.azure.net/exports/focus",
        "https://acct.blob.core.usgovcloudapi.net/exports/focus",
        "https://acct.blob.core.chinacloudapi.cn/exports/focus",
        "https://ACCT.Blob.Core.Windows.Net./exports/focus",
    ],
)
def test_azure_host_storage_suffixes_accepted(url):
    base, container, prefix = split_blob_url(url)
    assert container == "exports" and prefix == "focus" and base.startswith("https://")


@pytest.mark.parametrize(
    "url",
    [
        "http://acct.blob.core.windows.net/exports/focus",  # no token over plain http
        "https://evil.example/exports/focus",
        "https://acct.blob.core.windows.net.evil.example/exports/focus",
        "https://blob.core.windows.net@evil.example/exports/focus",
        "https://evilblob.core.windows.net/exports/focus",
        "https://169.254.169.254/acct/exports/focus",
        "https://localhost:10000/acct/exports/focus",
    ],
)
def test_azure_host_other_hosts_refused(url):
    with pytest.raises(ConnectorError, match="Azure Storage hosts"):
        split_blob_url(url)
