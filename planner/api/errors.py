"""API error responses for failures of the services behind Headroom (not of the request)."""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError as BrokerError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


def headroom_exception_handler(exc, context):
    """DRF's handler, plus: a task queue that cannot be reached is a 503 with a message the
    caller can act on (retry later), never a bare 500."""
    response = exception_handler(exc, context)
    if (
        response is None
        and isinstance(exc, (BrokerError, ConnectionError, RuntimeError))
        and _is_queue_error(exc)
    ):
        log.warning("task queue unavailable: %s", type(exc).__name__)
        return Response(
            {
                "detail": "The task queue is unavailable right now; nothing was queued. Retry in a minute."
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "60"},
        )
    return response


def _is_queue_error(exc: BaseException) -> bool:
    if isinstance(exc, BrokerError):
        return True
    text = f"{type(exc).__module__} {exc}"
    return "kombu" in text or "redis" in text or "amqp" in text or "closed pool" in text
