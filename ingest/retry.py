"""Shared retry policy for every connector: classify, back off with jitter, time out.

Each connector's ``client`` module wraps its network calls in :func:`call_with_retry`:

* **transient** failures (AWS ``ThrottlingException`` / ``RequestLimitExceeded`` /
  ``SlowDown``, HTTP 429 / 500 / 502 / 503 / 504, connection resets, timeouts) are retried
  up to ``attempts`` times with exponential backoff and full jitter, honouring a server's
  ``Retry-After`` header (seconds). When they persist, :class:`TransientError` is raised so
  the Celery task can retry the whole unit of work later (with its own, longer backoff);
* **auth** failures (HTTP 401 / 403, ``AccessDenied``, expired or missing credentials)
  raise :class:`AuthError` at once: retrying cannot fix them, and the message says what
  to check;
* anything else propagates unchanged.

SDK-internal retries are switched off in the clients (so retries happen in one place,
here) and every call carries a timeout of :data:`DEFAULT_TIMEOUT_S` seconds.

This module never imports a cloud SDK: errors are recognised by their attributes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import AuthError, TransientError

T = TypeVar("T")

#: Connect and read timeout of every external call, seconds.
DEFAULT_TIMEOUT_S = 30.0

TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})
AUTH_HTTP = frozenset({401, 403})
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        "LimitExceededException",
    }
)
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "UnrecognizedClientException",
        "MissingAuthenticationToken",
        "InvalidToken",
    }
)
TRANSIENT_NAMES = frozenset(
    {
        # DB-API (Django's and psycopg's wrappers alike): a dropped or terminated database
        # connection, a failover, a lock timeout; not a programming or data error
        "OperationalError",
        "InterfaceError",
        # botocore
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        # azure-core
        "ServiceRequestError",
        "ServiceResponseError",
        "ServiceRequestTimeoutError",
        "ServiceResponseTimeoutError",
        # google-api-core
        "TooManyRequests",
        "ServiceUnavailable",
        "InternalServerError",
        "GatewayTimeout",
        "DeadlineExceeded",
        "RetryError",
        # requests / urllib3
        "ConnectionError",
        "Timeout",
        "ReadTimeout",
        "ConnectTimeout",
        "ChunkedEncodingError",
        "ProtocolError",
    }
)
AUTH_NAMES = frozenset(
    {
        "NoCredentialsError",
        "ProfileNotFound",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "ClientAuthenticationError",
        "CredentialUnavailableError",
        "DefaultCredentialsError",
        "RefreshError",
        "Unauthenticated",
        "Unauthorized",
        "PermissionDenied",
        "Forbidden",
    }
)


def _mro_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def http_status(exc: BaseException) -> int | None:
    """HTTP status carried by an SDK exception, if any."""
    for attr in ("status_code", "code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status else None
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def error_code(exc: BaseException) -> str | None:
    """AWS-style error code (``ThrottlingException``) of a botocore ``ClientError``."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def classify(exc: BaseException) -> str:
    """``'transient'``, ``'auth'`` or ``'other'`` for an exception raised by an SDK call."""
    if isinstance(exc, TransientError):
        return "transient"
    if isinstance(exc, AuthError):
        return "auth"
    code = error_code(exc)
    if code in AUTH_CODES:
        return "auth"
    if code in TRANSIENT_CODES:
        return "transient"
    status = http_status(exc)
    if status in AUTH_HTTP:
        return "auth"
    if status in TRANSIENT_HTTP:
        return "transient"
    names = _mro_names(exc)
    if names & AUTH_NAMES:
        return "auth"
    if names & TRANSIENT_NAMES or isinstance(exc, (ConnectionError, TimeoutError)):
        return "transient"
    return "other"


def retry_after_seconds(exc: BaseException) -> float | None:
    """The ``Retry-After`` (seconds) a server sent with a throttling response, if any."""
    headers: Any = None
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders")
    elif response is not None:
        headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = None
    for key in ("Retry-After", "retry-after", "x-ms-retry-after-ms"):
        try:
            value = headers.get(key)
        except AttributeError:
            return None
        if value is not None:
            if key == "x-ms-retry-after-ms":
                try:
                    return float(value) / 1000.0
                except ValueError:
                    return None
            break
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


@dataclass
class RetryPolicy:
    """How :func:`call_with_retry` retries. Delays are seconds.

    The n-th retry (n = 0, 1, ...) waits ``uniform(0, min(cap_s, base_s * 2**n))`` ("full
    jitter"), or the server's ``Retry-After`` when it sent one (capped at ``cap_s``).
    ``sleep`` and ``rng`` are injectable so tests can record the waits.
    """

    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 30.0
    timeout_s: float = DEFAULT_TIMEOUT_S
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.cap_s, retry_after)
        return self.rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0**retry_number))


DEFAULT_POLICY = RetryPolicy()

AUTH_HINT = (
    "check the account's credentials: Headroom uses the SDK's default chain (instance role, "
    "managed identity, workload identity) or the environment variable named in the account's "
    "credential reference, and that identity needs read access to billing data"
)


def call_with_retry(
    fn: Callable[..., T],
    *args: Any,
    what: str,
    policy: RetryPolicy | None = None,
    **kwargs: Any,
) -> T:
    """Call ``fn(*args, **kwargs)``, retrying transient failures as the policy says.

    ``what`` names the call in error messages (e.g. ``"Cost Explorer get_cost_and_usage"``).
    Raises :class:`AuthError` on the first authentication/authorisation failure and
    :class:`TransientError` when transient failures outlast ``policy.attempts``.
    """
    p = policy or DEFAULT_POLICY
    for attempt in range(p.attempts):
        try:
            return fn(*args, **kwargs)
        except (AuthError, TransientError):
            raise
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised if unknown
            kind = classify(exc)
            if kind == "auth":
                raise AuthError(
                    f"{what}: access refused ({type(exc).__name__}: {_short(exc)}); {AUTH_HINT}"
                ) from exc
            if kind != "transient":
                raise
            retry_after = retry_after_seconds(exc)
            if attempt + 1 >= p.attempts:
                raise TransientError(
                    f"{what}: still failing after {p.attempts} attempts "
                    f"({type(exc).__name__}: {_short(exc)}); will retry later",
                    retry_after_s=retry_after,
                ) from exc
            p.sleep(p.delay(attempt, retry_after))
    raise AssertionError("unreachable")  # pragma: no cover


def as_connector_error(exc: BaseException, what: str) -> BaseException:
    """``exc`` as :class:`AuthError` / :class:`TransientError` when it is one of those kinds, else itself."""
    kind = classify(exc)
    if kind == "auth" and not isinstance(exc, AuthError):
        return AuthError(
            f"{what}: access refused ({type(exc).__name__}: {_short(exc)}); {AUTH_HINT}"
        )
    if kind == "transient" and not isinstance(exc, TransientError):
        return TransientError(
            f"{what}: {type(exc).__name__}: {_short(exc)}", retry_after_s=retry_after_seconds(exc)
        )
    return exc


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
