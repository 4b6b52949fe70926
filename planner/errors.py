"""Base of every domain error Headroom's Django apps raise; each app's ``errors.py`` derives
from :class:`HeadroomError`, never from ``ValueError``, so ``except`` clauses name what they
handle and a ``ValueError`` from a bug is not swallowed as bad input."""

from __future__ import annotations


class HeadroomError(Exception):
    """A failure a user can act on; the message says what and where."""
