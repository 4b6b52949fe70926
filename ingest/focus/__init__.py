"""FOCUS (FinOps Open Cost and Usage Specification) billing files: schema, reading, validation.

Public entry points: :func:`open_focus` (stream canonical FOCUS 1.4 record batches from
any FOCUS 1.0-1.4 CSV/CSV.gz/Parquet file, local or S3), :func:`detect_version`,
:data:`CANONICAL_SCHEMA`, :class:`FocusValidationError` / :class:`FocusError`.
"""

from .errors import FocusError, FocusValidationError, NotFocusError
from .reader import FocusStream, open_focus
from .schema import CANONICAL_SCHEMA, EXTENSIONS_COLUMN, detect_version

__all__ = [
    "CANONICAL_SCHEMA",
    "EXTENSIONS_COLUMN",
    "FocusError",
    "FocusStream",
    "FocusValidationError",
    "NotFocusError",
    "detect_version",
    "open_focus",
]
