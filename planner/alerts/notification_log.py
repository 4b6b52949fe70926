"""Recording every email and webhook message in the Notification log, and reading it back.

`record_email` is called by `notify.deliver` after each send attempt with the message exactly as
it went to the mail backend; `record_webhook` by the webhook task after each attempt. Both
update the row of the same `delivery_key` on a retry (attempts + 1), so the log holds one row per
message with its latest status. `rendered_email` turns a stored MIME message back into what a
mail client shows: the HTML part with its inline (``cid:``) images as ``data:`` URLs, the text
part, and the headers.
"""

from __future__ import annotations

import base64
import email
import email.policy
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F
from django.utils import timezone

from planner.alerts.models import Notification, NotificationChannel, NotificationStatus


def backend_name(message: EmailMessage | None = None) -> str:
    """'smtp', 'console', 'locmem', … — the module of the mail backend `message` went through
    (its own connection if it has one, else settings.EMAIL_BACKEND)."""
    connection = getattr(message, "connection", None)
    path = type(connection).__module__ if connection is not None else settings.EMAIL_BACKEND
    parts = path.split(".")
    return parts[-1] if connection is not None else parts[-2]


def _mime_text(message: EmailMessage) -> str:
    """The message's bytes as handed to the backend, kept as text: Django writes UTF-8 bodies
    8-bit and attachments base64, so the bytes are UTF-8 (`as_string` would not round-trip
    non-ASCII bodies through the parser)."""
    return message.message().as_bytes().decode("utf-8", errors="replace")


def _save(key: str, status: str, error: str, fields: dict) -> Notification:
    now = timezone.now()
    values = {
        **fields,
        "status": status,
        "error": error,
        "last_attempt_at": now,
        "sent_at": now if status == NotificationStatus.SENT else None,
    }
    updated = Notification.objects.filter(delivery_key=key).update(
        attempts=F("attempts") + 1, **values
    )
    if not updated:
        Notification.objects.create(delivery_key=key, **values)
    return Notification.objects.get(delivery_key=key)


def record_email(
    message: EmailMessage, *, kind: str, key: str, error: Exception | None, links: dict
) -> Notification:
    """Log one attempt to send `message`; `links` are the budget/alert/subscription/anomaly."""
    return _save(
        key,
        NotificationStatus.SENT if error is None else NotificationStatus.FAILED,
        "" if error is None else f"{type(error).__name__}: {error}",
        {
            "channel": NotificationChannel.EMAIL,
            "kind": kind,
            "subject": message.subject[:300],
            "recipients": list(message.to),
            "text_body": message.body,
            "raw_message": _mime_text(message),
            "backend": backend_name(message),
            **links,
        },
    )


def record_webhook(
    *, kind: str, key: str, target: str, text: str, status: str, error: str, links: dict
) -> Notification:
    """Log one webhook attempt; `target` is the redacted URL (never the token)."""
    first_line = text.splitlines()[0] if text else ""
    return _save(
        key,
        status,
        error,
        {
            "channel": NotificationChannel.WEBHOOK,
            "kind": kind,
            "subject": first_line[:300],
            "recipients": [target],
            "text_body": text,
            "backend": "webhook",
            **links,
        },
    )


@dataclass(frozen=True)
class RenderedEmail:
    headers: dict
    text: str
    html: str  # with inline images as data: URLs, ready for a sandboxed iframe's srcdoc
    images: dict  # Content-ID -> (mime type, bytes)


def rendered_email(notification: Notification) -> RenderedEmail:
    """Parse the stored MIME message back into its parts."""
    msg = email.message_from_bytes(
        notification.raw_message.encode("utf-8"), policy=email.policy.default
    )
    text_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    images = {}
    for part in msg.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            images[cid.strip("<>")] = (part.get_content_type(), part.get_payload(decode=True))
    html = html_part.get_content() if html_part is not None else ""
    for cid, (ctype, data) in images.items():
        html = html.replace(f"cid:{cid}", f"data:{ctype};base64,{base64.b64encode(data).decode()}")
    headers = {k: str(msg[k]) for k in ("From", "To", "Subject", "Date") if msg[k]}
    return RenderedEmail(
        headers=headers,
        text=text_part.get_content() if text_part is not None else notification.text_body,
        html=html,
        images=images,
    )
