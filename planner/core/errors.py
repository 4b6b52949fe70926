"""Errors of the core app."""

from __future__ import annotations

from planner.errors import HeadroomError


class CoreError(HeadroomError):
    """Base of the core app's errors."""


class DatabaseBusy(CoreError):
    """SQLite stayed locked by another writer for every retry."""


class ImportPathError(CoreError):
    """A FOCUS source Headroom will not read; the message says where files must go."""
