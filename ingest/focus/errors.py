"""Errors raised while reading and validating FOCUS billing files.

Every problem is a :class:`FocusError` that says *where* (source file, 1-based data row
number with the header excluded, column) and *what* (the offending value and what was
expected). A file with problems raises one :class:`FocusValidationError` carrying all the
problems found in the failing step (all missing columns at once; up to
:data:`MAX_ERRORS_PER_BATCH` bad values of one record batch).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import IngestError

#: Cap on the number of bad values collected from one record batch before raising.
MAX_ERRORS_PER_BATCH = 50

#: How many errors ``str(FocusValidationError)`` lists before summarising the rest.
MAX_ERRORS_SHOWN = 20


def short_repr(value: object, limit: int = 80) -> str:
    """``repr`` of a value, truncated to ``limit`` characters for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


@dataclass(frozen=True)
class FocusError:
    """One problem in a FOCUS file.

    ``row`` is the 1-based data row number (header excluded) or ``None`` when the
    problem concerns the whole file or a column header. ``value`` is the offending
    value as read (``None`` when not applicable), ``expected`` what would have been
    accepted, ``message`` a complete sentence fragment such as
    ``"'abc' is not a decimal number"``.
    """

    source: str
    row: int | None
    column: str | None
    value: object
    expected: str
    message: str

    @property
    def location(self) -> str:
        """``"row 17, column BilledCost"``, ``"column BilledCost"`` or ``"file"``."""
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        return ", ".join(parts) if parts else "file"

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.value is not None and self.expected and self.expected not in self.message:
            text += f" (expected {self.expected})"
        return text

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (the value is rendered with ``str`` unless ``None``)."""
        return {
            "source": self.source,
            "row": self.row,
            "column": self.column,
            "value": None if self.value is None else str(self.value),
            "expected": self.expected,
            "message": self.message,
        }


class FocusValidationError(IngestError):
    """A FOCUS file failed validation; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FocusError], hint: str | None = None) -> None:
        if not errors:
            raise ValueError("FocusValidationError needs at least one FocusError")
        self.errors = list(errors)
        self.hint = hint
        super().__init__(self._render())

    @property
    def source(self) -> str:
        return self.errors[0].source

    @property
    def first_row(self) -> int | None:
        """Smallest row number among the errors (``None`` if none is row-specific)."""
        rows = [e.row for e in self.errors if e.row is not None]
        return min(rows) if rows else None

    def _render(self) -> str:
        n = len(self.errors)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''} found in FOCUS file"
        lines = [head + ":"]
        lines += [f"  - {e}" for e in self.errors[:MAX_ERRORS_SHOWN]]
        if n > MAX_ERRORS_SHOWN:
            lines.append(f"  ... and {n - MAX_ERRORS_SHOWN} more")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._render()


class NotFocusError(FocusValidationError):
    """The file is not a FOCUS export at all (too few FOCUS columns, or unreadable)."""


class UnsupportedVersionError(FocusValidationError):
    """The file is FOCUS, but of a release Headroom does not read (e.g. newer than 1.4)."""

    def __init__(self, source: str, version: str, message: str) -> None:
        self.version = version
        super().__init__(
            [FocusError(source, None, None, version, "FOCUS 1.0 to 1.4", message)],
            hint="Export the data as FOCUS 1.4 or older (providers keep older FOCUS "
            "versions selectable), or upgrade Headroom.",
        )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} bytes"


class DecompressionLimitError(IngestError):
    """A compressed file inflates past the configured limit (a decompression bomb, or a file
    larger than this deployment accepts). Turned into a :class:`FocusValidationError`."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        super().__init__(
            f"the file decompresses to more than {_size(limit_bytes)}, the limit for one file"
        )
