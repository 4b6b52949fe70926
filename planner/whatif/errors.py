"""Errors of scenarios and recommendations."""

from __future__ import annotations

from planner.errors import HeadroomError


class WhatifError(HeadroomError):
    """Base of the what-if app's errors."""


class ScenarioInputError(WhatifError):
    """A scenario that cannot be simulated, with a message saying what to change."""
