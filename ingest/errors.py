"""Every error the ingest package raises on purpose derives from :class:`IngestError`.

None derives from ``ValueError``: a caller that handles ingest failures catches these, and a
``ValueError`` from a bug (or a library) is not mistaken for bad input. FOCUS validation
errors live beside the validator (:mod:`ingest.focus.errors`) and derive from it too.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every ingest error; the message says what was wrong and what to do."""


class ConnectorError(IngestError):
    """A connector could not read its source; the message says what to do."""


class TransientError(ConnectorError):
    """Throttling or a temporary outage that persisted through the in-call retries."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthError(ConnectorError):
    """Credentials missing, expired or without permission: retrying cannot help."""


class ObjectNotFoundError(ConnectorError, FileNotFoundError):
    """A storage object (``s3://bucket/key``) that does not exist: retrying cannot help.
    Also a ``FileNotFoundError``, like a missing local file."""


class ResponseShapeError(ConnectorError):
    """A cloud API response that does not have the documented shape."""


class FxError(IngestError):
    """A currency cannot be converted (unknown code, or unreadable rate file)."""


class PrometheusHTTPError(IngestError):
    """A non-200 answer from Prometheus; ``status_code`` lets the retry policy classify it."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class ServingConfigError(IngestError):
    """A serving-stack configuration that cannot be turned into queries (says which key)."""


class StoreConfigError(IngestError):
    """A store URL that cannot be used, with the reason."""
