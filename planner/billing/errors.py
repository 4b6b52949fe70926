"""Errors of billing ingestion and loading."""

from __future__ import annotations

from planner.errors import HeadroomError


class BillingError(HeadroomError):
    """Base of the billing app's errors."""


class LoadError(BillingError):
    """A stream that cannot be loaded, with a message a user can act on."""


class RunAlreadyActive(BillingError):
    """Another run for the same account and billing period is queued or running."""


class UploadRefused(BillingError):
    """An upload Headroom will not store; the message says what to send instead."""


class MissingPartsError(BillingError, OSError):
    """A version lost parts between writing and publishing (removed by a concurrent load)."""
