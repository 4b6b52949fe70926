"""Domain errors of the cost models derive from :class:`CostModelError`, never ``ValueError``.

Invalid *arguments* (a negative rate, a missing column) raise ``ValueError`` as scikit-learn
does; a result the models refuse to give (too little history, no safe size) is a
:class:`CostModelError`, so a caller can tell a refusal from a bug.
"""

from __future__ import annotations


class CostModelError(Exception):
    """Base of the cost models' domain errors; the message says what to change."""


class SeriesInputError(CostModelError):
    """A cost series (file or Series) that cannot be forecast or scored, with where and why."""


class RightsizingRefused(CostModelError):
    """No rightsizing is recommended; the message gives the reason."""
