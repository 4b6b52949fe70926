"""Errors of the commitments inventory."""

from planner.errors import HeadroomError


class CommitmentError(HeadroomError):
    """Base class: a commitment question that cannot be answered as asked."""


class ContractFileError(CommitmentError):
    """A Contract Commitment file that cannot be stored (not that dataset, or invalid)."""
