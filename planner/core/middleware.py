"""Request-wide rules: a signed-in user needs a role; an unreachable task queue is a 503 page."""

from __future__ import annotations

import functools
import logging

from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from kombu.exceptions import OperationalError as BrokerError

from planner.core.roles import user_role

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


@functools.lru_cache(maxsize=8)
def _open_paths(script_prefix: str) -> tuple[str, ...]:
    """Sign-out, sign-in and the health check: reversed once per script prefix."""
    return (reverse("logout"), reverse("login"), reverse("healthz"))


class RoleRequiredMiddleware:
    """Every page needs a role: a signed-in user who holds none (not viewer, analyst or admin)
    gets a 403 page telling them to ask an admin, and sees no data. Signing out, the health
    check and static files stay open; the API refuses such users itself (JSON 403)."""

    OPEN_PREFIXES = ("/static/", "/api/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user_role(user) is None
            and not request.path.startswith(self.OPEN_PREFIXES)
            and request.path not in _open_paths(get_script_prefix())
        ):
            log.info("user %s has no role: refused %s", user.pk, request.path)
            return render(request, "core/no_role.html", status=403)
        return self.get_response(request)
