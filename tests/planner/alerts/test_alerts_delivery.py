"""Delivery through real servers on 127.0.0.1: an SMTP server (aiosmtpd) receives and we parse
the message; an HTTP server plays a Slack-compatible webhook that fails once, then accepts."""

from __future__ import annotations

import datetime as dt
import email
import json
import logging
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from aiosmtpd.controller import Controller

from planner.alerts import webhooks
from planner.alerts.budgets import evaluate_budget
from planner.alerts.models import Budget, BudgetScope
from tests.planner.alerts.rollup_helpers import add_daily

pytestmark = pytest.mark.django_db
D = dt.date


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def test_budget_alert_through_a_real_smtp_server(fleet, settings, smtp_server):
    controller, handler = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "Headroom <alerts@headroom.test>"
    settings.SITE_URL = "https://headroom.example.com"
    add_daily(
        fleet["account"], D(2026, 10, 1), D(2026, 10, 17), 500.0, service=fleet["chat"]
    )  # 8,500
    budget = Budget.objects.create(
        name="Chat <prod>",
        scope=BudgetScope.SERVICE,
        service=fleet["chat"],
        amount_usd=10000,
        actual_thresholds=[80],
        forecast_thresholds=[],
        recipients="finops@example.com",
    )
    with time_machine.travel(dt.datetime(2026, 10, 17, 9, tzinfo=dt.UTC), tick=False):
        evaluate_budget(budget.pk)
    assert len(handler.messages) == 1
    envelope = handler.messages[0]
    assert envelope.mail_from == "alerts@headroom.test"
    assert envelope.rcpt_tos == ["finops@example.com"]
    msg = email.message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"] == "[Headroom] Budget Chat <prod>: 80% spent for 2026-10"
    # text and HTML alternatives, with the chart PNG the HTML shows inline (multipart/related)
    assert msg.get_content_type() == "multipart/related"
    assert msg.get_payload()[0].get_content_type() == "multipart/alternative"
    (image,) = [part for part in msg.walk() if part.get_content_maintype() == "image"]
    assert image.get_content_type() == "image/png" and image["Content-ID"] == "<budget-chart>"
    assert image.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Spent so far:         $8,500.00 (85.0%)" in text
    assert "Budget:               $10,000.00" in text
    assert f"https://headroom.example.com/budgets/{budget.pk}/" in text
    assert "- T chat: $8,500.00" in text and "- g5.xlarge: $8,500.00" in text
    assert "Chat &lt;prod&gt;" in html  # escaped in HTML, verbatim in the subject
    assert f'href="https://headroom.example.com/budgets/{budget.pk}/"' in html
    assert 'data-value="8500.00"' in html and ">$8,500.00</strong>" in html and ">85.0%<" in html
    assert 'src="cid:budget-chart"' in html


class FlakyWebhook(BaseHTTPRequestHandler):
    """Answers 503 to the first request and 200 afterwards; records the JSON bodies."""

    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FlakyWebhook.received.append((self.path, json.loads(body)))
        self.send_response(503 if len(FlakyWebhook.received) == 1 else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server(settings):
    # A local plain-http receiver: allowed only in DEBUG and with loopback declared private-ok.
    settings.DEBUG = True
    settings.WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    FlakyWebhook.received = []
    server = HTTPServer(("127.0.0.1", 0), FlakyWebhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_webhook_retries_and_never_logs_the_token(
    fleet, webhook_server, caplog, monkeypatch, django_capture_on_commit_callbacks, mailoutbox
):
    """Eager Celery runs the retry at once (no countdown) and reports it as a Retry state, so
    propagation is off here; a worker would wait 5 s (backoff) before the second POST."""
    from planner.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    url = f"{webhook_server}/services/T000/B000/s3cr3t-t0ken"
    add_daily(fleet["account"], D(2026, 10, 1), D(2026, 10, 10), 1000.0, service=fleet["chat"])
    budget = Budget.objects.create(
        name="Chat",
        scope=BudgetScope.SERVICE,
        service=fleet["chat"],
        amount_usd=10000,
        actual_thresholds=[100],
        forecast_thresholds=[],
        recipients="a@example.com",
        webhook_url=url,
    )
    caplog.set_level(logging.DEBUG)
    with (
        time_machine.travel(dt.datetime(2026, 10, 10, 9, tzinfo=dt.UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        evaluate_budget(budget.pk)
    assert len(mailoutbox) == 1
    assert len(FlakyWebhook.received) == 2  # 503, retried, 200
    path, payload = FlakyWebhook.received[-1]
    assert path == "/services/T000/B000/s3cr3t-t0ken"
    assert payload["text"].startswith("Budget *Chat* has reached 100% for 2026-10: $10,000 spent")
    assert "s3cr3t" not in caplog.text
    assert "HTTP 503" in caplog.text  # the retry was logged, redacted


def test_webhook_errors_are_classified(webhook_server):
    assert (
        webhooks.redact("https://hooks.slack.com/services/T/B/secret")
        == "https://hooks.slack.com/…"
    )
    assert webhooks.redact("not a url") == "(invalid webhook URL)"
    with pytest.raises(webhooks.TransientWebhookError, match="HTTP 503") as exc:
        webhooks.post(f"{webhook_server}/tok", "hello")
    assert "tok" not in str(exc.value)
    assert webhooks.post(f"{webhook_server}/tok", "again") == 200
    closed = f"http://127.0.0.1:{free_port()}/secret"
    with pytest.raises(webhooks.TransientWebhookError, match="ConnectionError") as exc:
        webhooks.post(closed, "x", timeout=2)
    assert "secret" not in str(exc.value)
