"""Slack-compatible incoming webhooks: POST {"text": ...} as JSON, with a timeout.

Webhook URLs carry their token in the path, so they are never logged whole: `redact` keeps
the scheme and host only. Server errors, 429 and network failures raise `TransientWebhookError`
(the Celery task retries those with exponential backoff); other 4xx raise `WebhookRejected`
(retrying would not help: the URL is wrong or revoked).
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

import requests
from django.conf import settings

DEFAULT_TIMEOUT_S = 10.0
_posting = threading.local()


class _HideWebhookRequests(logging.Filter):
    """urllib3 logs each request line (with the URL path, i.e. the token) at DEBUG; drop those
    records while this thread is posting to a webhook."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_posting, "active", False)


logging.getLogger("urllib3.connectionpool").addFilter(_HideWebhookRequests())


class WebhookError(Exception):
    pass


class TransientWebhookError(WebhookError):
    """Worth retrying: 5xx, 429, timeout or connection failure."""


class WebhookRejected(WebhookError):
    """Not worth retrying: the receiver refused the request (4xx other than 429)."""


def redact(url: str) -> str:
    """'https://hooks.slack.com/services/T0/B0/secret' -> 'https://hooks.slack.com/…'."""
    parts = urlsplit(url or "")
    if not parts.scheme or not parts.hostname:
        return "(invalid webhook URL)"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def post(url: str, text: str, timeout: float | None = None) -> int:
    """Send one message; returns the HTTP status. Raises a WebhookError subclass on failure."""
    timeout = timeout or min(DEFAULT_TIMEOUT_S, float(settings.EXTERNAL_CALL_TIMEOUT_S))
    _posting.active = True
    try:
        response = requests.post(url, json={"text": text}, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientWebhookError(f"webhook {redact(url)}: {type(exc).__name__}") from None
    finally:
        _posting.active = False
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientWebhookError(f"webhook {redact(url)} answered HTTP {response.status_code}")
    if response.status_code >= 400:
        raise WebhookRejected(
            f"webhook {redact(url)} refused the message: HTTP {response.status_code}"
        )
    return response.status_code
