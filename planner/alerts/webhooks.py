"""Slack-compatible incoming webhooks: POST {"text": ...} as JSON, with a timeout.

Webhook URLs are chosen by analysts, so posting to one must not let them reach inside the
network (SSRF): :func:`check_url` allows https only (http too when DEBUG), an optional host
allow-list (``HEADROOM_WEBHOOK_ALLOWED_HOSTS``), and only hosts whose every address is public —
loopback, private, link-local, shared, reserved and cloud metadata addresses are refused unless
their network is listed in ``HEADROOM_WEBHOOK_PRIVATE_NETWORKS``. :func:`post` connects to the
address it checked (no second lookup that a rebinding DNS could answer differently), sends the
host name for TLS verification and ``Host``, and never follows a redirect.

Webhook URLs carry their token in the path, so they are never logged whole: `redact` keeps
the scheme and host only. Server errors, 429 and network failures raise `TransientWebhookError`
(the Celery task retries those with exponential backoff); other 4xx raise `WebhookRejected`
(retrying would not help: the URL is wrong or revoked).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from urllib.parse import SplitResult, urlsplit

import certifi
import urllib3
from django.conf import settings

from planner.alerts.errors import (
    TransientWebhookError,
    WebhookRefused,
    WebhookRejected,
)

DEFAULT_TIMEOUT_S = 10.0
_posting = threading.local()


class _HideWebhookRequests(logging.Filter):
    """urllib3 logs each request line (with the URL path, i.e. the token) at DEBUG; drop those
    records while this thread is posting to a webhook."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_posting, "active", False)


logging.getLogger("urllib3.connectionpool").addFilter(_HideWebhookRequests())
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Instance metadata services that sit on ordinary-looking addresses (others are link-local).
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254")}


def redact(url: str) -> str:
    """'https://hooks.slack.com/services/T0/B0/secret' -> 'https://hooks.slack.com/…'."""
    parts = urlsplit(url or "")
    if not parts.scheme or not parts.hostname:
        return "(invalid webhook URL)"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def _public(ip: IPAddress) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    allowed = [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_PRIVATE_NETWORKS]
    if any(ip.version == net.version and ip in net for net in allowed):
        return True
    return ip.is_global and not ip.is_multicast and ip not in METADATA_ADDRESSES


def _host_allowed(host: str) -> bool:
    allowed = [h.lower() for h in settings.WEBHOOK_ALLOWED_HOSTS]
    return not allowed or any(
        host == h or (h.startswith(".") and host.endswith(h)) for h in allowed
    )


def check_url(url: str, *, resolve: bool = True) -> tuple[SplitResult, IPAddress | None]:
    """The parsed URL and the (checked) address to connect to; raises :class:`WebhookRefused`.

    With ``resolve=False`` (saving a form) a name that does not resolve is accepted: it is
    checked again, resolved, before every post. Addresses that do resolve must all be public.
    """
    parts = urlsplit(url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookRefused(f"{redact(url)}: a webhook URL must be https://host/path")
    if parts.scheme == "http" and not settings.DEBUG:
        raise WebhookRefused(f"{redact(url)}: webhook URLs must use https")
    if parts.username or parts.password:
        raise WebhookRefused(f"{redact(url)}: credentials in a webhook URL are not supported")
    host = parts.hostname.rstrip(".").lower()
    if not _host_allowed(host):
        raise WebhookRefused(
            f"{redact(url)}: {host} is not in HEADROOM_WEBHOOK_ALLOWED_HOSTS "
            f"({', '.join(settings.WEBHOOK_ALLOWED_HOSTS)})"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        if not resolve:
            return parts, None
        raise TransientWebhookError(f"webhook {redact(url)}: cannot resolve {host}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    refused = sorted({str(a) for a in addresses if not _public(a)})
    if refused:
        raise WebhookRefused(
            f"{redact(url)}: {host} resolves to {', '.join(refused)}, a loopback, private, "
            "link-local or metadata address; Headroom only posts to public hosts"
        )
    return parts, addresses[0]


def _ca_bundle() -> str:
    return settings.WEBHOOK_CA_BUNDLE or certifi.where()


def post(url: str, text: str, timeout: float | None = None) -> int:
    """Send one message; returns the HTTP status. Raises a WebhookError subclass on failure."""
    timeout = timeout or min(DEFAULT_TIMEOUT_S, float(settings.EXTERNAL_CALL_TIMEOUT_S))
    parts, ip = check_url(url)
    assert ip is not None  # check_url resolves (or raises) by default
    host, port = parts.hostname or "", parts.port
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(ip),
            port or 443,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=_ca_bundle(),
            server_hostname=host,
            assert_hostname=host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(str(ip), port or 80, timeout=timeout, retries=False)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": f"{host}:{port}" if port else host,
        "Content-Type": "application/json",
        "User-Agent": "Headroom-webhook",
    }
    _posting.active = True
    try:
        response = pool.urlopen(
            "POST",
            target,
            body=json.dumps({"text": text}).encode(),
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=True,
        )
    except urllib3.exceptions.HTTPError as exc:
        raise TransientWebhookError(f"webhook {redact(url)}: {type(exc).__name__}") from None
    finally:
        _posting.active = False
        pool.close()
    if response.status == 429 or response.status >= 500:
        raise TransientWebhookError(f"webhook {redact(url)} answered HTTP {response.status}")
    if 300 <= response.status < 400:
        raise WebhookRejected(
            f"webhook {redact(url)} answered a redirect (HTTP {response.status}); "
            "redirects are not followed: use the final URL"
        )
    if response.status >= 400:
        raise WebhookRejected(f"webhook {redact(url)} refused the message: HTTP {response.status}")
    return response.status
