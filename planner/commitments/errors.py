"""Errors of the commitments inventory."""


class CommitmentError(Exception):
    """Base class: a commitment question that cannot be answered as asked."""


class ContractFileError(CommitmentError):
    """A Contract Commitment file that cannot be stored (not that dataset, or invalid)."""
