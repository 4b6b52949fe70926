"""Errors of showback / chargeback."""

from planner.errors import HeadroomError


class ChargebackError(HeadroomError):
    """Base class: a chargeback report that cannot be made as asked."""


class AllocationRuleError(ChargebackError):
    """A shared-cost pool or tag rule that cannot be applied (the message names it)."""
