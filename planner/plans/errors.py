"""Errors of capacity plans, their decisions, exports and AWS apply."""

from __future__ import annotations

from planner.errors import HeadroomError


class PlansError(HeadroomError):
    """Base of the plans app's errors."""


class PlanError(PlansError):
    """A plan that cannot be created or changed as asked; the message says why."""


class DecisionError(PlansError):
    """A plan decision is inconsistent; the message names service and field."""


class CronError(PlansError):
    """A cron expression cannot be parsed; the message shows the field."""


class AwsApplyError(PlansError):
    """The plan cannot be expressed in Application Auto Scaling; says which service."""


class BundleError(PlansError):
    """The bundle could not be built or written; the message says what to do."""


class ManifestValidationError(PlansError):
    """A manifest does not match its schema; ``errors`` says where and why."""

    def __init__(self, kind: str, name: str, errors: list) -> None:
        self.kind, self.name, self.errors = kind, name, errors
        lines = "\n".join(f"  - {e}" for e in errors)
        super().__init__(
            f"{kind} '{name}' is invalid ({len(errors)} problem(s)); fix these fields:\n{lines}"
        )
