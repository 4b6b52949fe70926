"""Shared retry policy: classification of real SDK exceptions, jittered exponential backoff, Retry-After."""

from __future__ import annotations

import random

import psycopg
import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from django import db
from google.api_core import exceptions as gexc

from ingest.retry import (
    AuthError,
    RetryPolicy,
    TransientError,
    call_with_retry,
    classify,
    retry_after_seconds,
)


def _aws(code: str, status: int, headers: dict | None = None) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": code},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
        },
        "Op",
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_aws("ThrottlingException", 400), "transient"),
        (_aws("RequestLimitExceeded", 503), "transient"),
        (_aws("SlowDown", 503), "transient"),
        (_aws("AccessDenied", 403), "auth"),
        (_aws("ExpiredToken", 400), "auth"),
        (_aws("NoSuchBucket", 404), "other"),
        (_aws("ValidationException", 400), "other"),
        (EndpointConnectionError(endpoint_url="http://x"), "transient"),
        (NoCredentialsError(), "auth"),
        (gexc.TooManyRequests("quota"), "transient"),
        (gexc.ServiceUnavailable("down"), "transient"),
        (gexc.PermissionDenied("no"), "auth"),
        (gexc.Unauthenticated("no"), "auth"),
        (gexc.NotFound("no"), "other"),
        (requests.ConnectionError("reset"), "transient"),
        (ConnectionResetError(104, "Connection reset by peer"), "transient"),
        (TimeoutError(), "transient"),
        (ValueError("bad"), "other"),
        # a database connection terminated under a running job (Django's and psycopg's errors)
        (db.OperationalError("terminating connection due to administrator command"), "transient"),
        (psycopg.OperationalError("server closed the connection unexpectedly"), "transient"),
        (db.InterfaceError("connection already closed"), "transient"),
        (db.IntegrityError("duplicate key value"), "other"),
        (db.ProgrammingError("column does not exist"), "other"),
    ],
)
def test_classification(exc, kind):
    assert classify(exc) == kind


def test_full_jitter_backoff_grows_and_is_capped():
    p = RetryPolicy(base_s=0.5, cap_s=4.0, rng=random.Random(7))
    delays = [[p.delay(n) for _ in range(200)] for n in range(6)]
    for n, ds in enumerate(delays):
        bound = min(4.0, 0.5 * 2**n)
        assert all(0.0 <= d <= bound for d in ds)
        assert max(ds) > 0.8 * bound  # the whole window is used (jitter), not a fixed delay
    assert p.delay(0, retry_after=2.5) == 2.5 and p.delay(0, retry_after=99) == 4.0


def test_retry_after_header_is_read_from_aws_errors():
    assert retry_after_seconds(_aws("ThrottlingException", 429, {"retry-after": "3"})) == 3.0
    assert retry_after_seconds(_aws("ThrottlingException", 429)) is None


def test_transient_errors_are_retried_then_escalated_auth_is_not():
    calls, sleeps = [], []
    p = RetryPolicy(attempts=3, base_s=1.0, sleep=sleeps.append, rng=random.Random(1))

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _aws("ThrottlingException", 400)
        return "ok"

    assert call_with_retry(flaky, what="flaky", policy=p) == "ok" and len(sleeps) == 2
    with pytest.raises(TransientError, match="still failing after 3 attempts"):
        call_with_retry(lambda: (_ for _ in ()).throw(_aws("SlowDown", 503)), what="s3", policy=p)
    calls.clear()

    def denied():
        calls.append(1)
        raise _aws("AccessDenied", 403)

    with pytest.raises(AuthError, match="s3: access refused .*credential"):
        call_with_retry(denied, what="s3", policy=p)
    assert len(calls) == 1
    with pytest.raises(ValueError):
        call_with_retry(lambda: int("x"), what="parse", policy=p)
