"""A task queue that cannot be reached is a clear 503 page, not a server error."""

from __future__ import annotations

import logging

from django.shortcuts import render
from kombu.exceptions import OperationalError as BrokerError

log = logging.getLogger(__name__)


class TaskQueueUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, BrokerError):
            return None
        log.warning("task queue unavailable during %s %s", request.method, request.path)
        response = render(request, "core/queue_unavailable.html", status=503)
        response["Retry-After"] = "60"
        return response
