"""Errors of alert delivery."""

from __future__ import annotations

from planner.errors import HeadroomError


class AlertsError(HeadroomError):
    """Base of the alerts app's errors."""


class WebhookError(AlertsError):
    """A webhook post failed."""


class TransientWebhookError(WebhookError):
    """Worth retrying: 5xx, 429, timeout or connection failure."""


class WebhookRejected(WebhookError):
    """Not worth retrying: the receiver refused the request (4xx other than 429)."""


class WebhookRefused(WebhookRejected):
    """Headroom does not post to this URL (scheme, host or address not allowed)."""


class DemoBudgetError(AlertsError):
    """The demo fleet has no spend to set the demo budgets against."""
