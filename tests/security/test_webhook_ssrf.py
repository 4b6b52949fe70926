"""Webhooks cannot be turned against the server's own network (issue 13, item 2: blind SSRF).

Receivers are real local servers; the DNS boundary (``socket.getaddrinfo``) is replaced only in
the rebinding test, where it answers one name with two different addresses in turn.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.urls import reverse

from planner.alerts import webhooks
from planner.alerts.models import Budget
from tests.ingest.local_servers import serve
from tests.planner.api.conftest import token_client


class Receiver(BaseHTTPRequestHandler):
    hits: list[tuple[str, str]] = []  # (server address, path)
    redirect_to = ""

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.hits.append((self.server.server_address[0], self.path))
        if Receiver.redirect_to:
            self.send_response(302)
            self.send_header("Location", Receiver.redirect_to)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST


@pytest.fixture
def receiver():
    Receiver.hits, Receiver.redirect_to = [], ""
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "192.168.0.10",
        "169.254.169.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "100.100.100.200",
        "0.0.0.0",
    ],
)
def test_ssrf_webhook_to_internal_address_is_refused_before_connecting(receiver, host):
    url = f"https://{host}:{receiver}/services/T/B/token"
    with pytest.raises(webhooks.WebhookRefused, match="only posts to public hosts"):
        webhooks.post(url, "hello")
    assert Receiver.hits == []


def test_ssrf_plain_http_is_refused_outside_debug(settings, receiver):
    settings.DEBUG = False
    settings.WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    with pytest.raises(webhooks.WebhookRefused, match="must use https"):
        webhooks.post(f"http://127.0.0.1:{receiver}/x", "hello")
    assert Receiver.hits == []


def test_ssrf_redirects_are_not_followed(settings, receiver):
    settings.DEBUG = True
    settings.WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    Receiver.redirect_to = f"http://127.0.0.1:{receiver}/internal-admin"
    with pytest.raises(webhooks.WebhookRejected, match="redirect"):
        webhooks.post(f"http://127.0.0.1:{receiver}/hook", "hello")
    assert Receiver.hits == [("127.0.0.1", "/hook")]


def test_ssrf_connects_to_the_address_it_checked(settings, monkeypatch):
    """DNS rebinding: the name answers an allowed address first, loopback after. The post goes
    to the first (checked) address, and the name is looked up once."""
    settings.DEBUG = True
    settings.WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.2/32"]
    Receiver.hits, Receiver.redirect_to = [], ""
    server = HTTPServer(("127.0.0.2", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])
    lookups = []
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host != "hooks.rebind.test":
            return real(host, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        assert webhooks.post(f"http://hooks.rebind.test:{port}/hook", "hi") == 200
    finally:
        server.shutdown()
        server.server_close()
    assert Receiver.hits == [("127.0.0.2", "/hook")] and lookups == ["hooks.rebind.test"]


def test_ssrf_https_post_verifies_the_certificate_of_the_named_host(settings, monkeypatch):
    settings.WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    Receiver.hits, Receiver.redirect_to = [], ""
    with serve(Receiver, tls=True) as (url, ca):
        port = url.rsplit(":", 1)[1]
        with pytest.raises(webhooks.TransientWebhookError, match="SSLError"):
            webhooks.post(f"https://localhost:{port}/hook", "untrusted CA")
        settings.WEBHOOK_CA_BUNDLE = ca
        assert webhooks.post(f"https://localhost:{port}/hook", "trusted") == 200
    assert Receiver.hits == [("127.0.0.1", "/hook")]


def test_ssrf_host_allow_list(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.slack.com", ".chat.example.com"]
    with pytest.raises(webhooks.WebhookRefused, match="HEADROOM_WEBHOOK_ALLOWED_HOSTS"):
        webhooks.check_url("https://evil.example.net/x", resolve=False)
    webhooks.check_url("https://hooks.slack.com/services/T/B/x", resolve=False)
    webhooks.check_url("https://ops.chat.example.com/x", resolve=False)


def test_ssrf_forms_and_api_refuse_internal_webhooks(analyst_client, analyst):
    form = {
        "name": "Total",
        "scope": "total",
        "period": "monthly",
        "amount_usd": "5000",
        "actual_thresholds": "100",
        "forecast_thresholds": "",
        "recipients": "a@example.com",
        "webhook_url": "https://169.254.169.254/latest/meta-data",
        "active": "on",
    }
    page = analyst_client.post(reverse("budget-create"), form)
    assert page.status_code == 200 and "only posts to public hosts" in page.content.decode()
    body = {k: v for k, v in form.items() if k not in ("actual_thresholds", "forecast_thresholds")}
    body["active"] = True
    api = token_client(analyst)
    resp = api.post("/api/v1/budgets/", body, format="json")
    assert resp.status_code == 400 and "public hosts" in str(resp.json()["webhook_url"])
    assert not Budget.objects.filter(name="Total").exists()


def test_ssrf_webhook_urls_are_write_only_in_the_api(analyst, viewer):
    body = {
        "name": "Slack",
        "scope": "total",
        "period": "monthly",
        "amount_usd": "100",
        "recipients": "",
        "webhook_url": "https://hooks.slack.com/services/T0/B0/s3cr3t",
        "active": True,
    }
    created = token_client(analyst).post("/api/v1/budgets/", body, format="json")
    assert created.status_code == 201, created.content
    assert Budget.objects.get(pk=created.json()["id"]).webhook_url == body["webhook_url"]
    for user in (viewer, analyst):
        text = token_client(user).get("/api/v1/budgets/").content.decode()
        assert "s3cr3t" not in text and "https://hooks.slack.com/…" in text
