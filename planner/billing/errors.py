"""Errors of billing ingestion and loading."""

from __future__ import annotations

from planner.errors import HeadroomError


class BillingError(HeadroomError):
    """Base of the billing app's errors."""


class LoadError(BillingError):
    """A stream that cannot be loaded, with a message a user can act on."""


class RunAlreadyActive(BillingError):
    """Another run for the same account and billing period is queued or running."""
