"""Errors of the plan exporters and readers (one base class; none is a ValueError)."""

from __future__ import annotations

from planner.plans.errors import PlansError


class ExportError(PlansError):
    """Base class: an export or a read-back could not be done; the message says why."""


class ExportRefused(ExportError):
    """A simulated behaviour that the chosen autoscaler cannot express.

    ``reasons`` lists each one with what to change; nothing is rendered instead.
    """

    def __init__(self, service: str, exporter: str, reasons: list[str]):
        self.service, self.exporter, self.reasons = service, exporter, list(reasons)
        lines = "\n".join(f"  - {r}" for r in reasons)
        super().__init__(
            f"service '{service}': the {exporter} export cannot do what was simulated:\n{lines}"
        )


class ManifestReadError(ExportError):
    """An exported object cannot be read back into a simulator policy (names the field)."""
