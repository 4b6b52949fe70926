"""What budgets and anomaly subscriptions share: recipient lists and delivery states."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models


def parse_recipients(text: str) -> list[str]:
    """Email addresses separated by commas, semicolons, spaces or new lines."""
    return [r for r in re.split(r"[\s,;]+", text or "") if r]


def validate_recipients(text: str) -> None:
    for address in parse_recipients(text):
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                f"{address!r} is not an email address; separate addresses with commas."
            ) from None


class DeliveryStatus(models.TextChoices):
    CLAIMED = "claimed", "Claimed, sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will retry)"
    SUPERSEDED = "superseded", "Crossed together with a higher threshold (one email)"
