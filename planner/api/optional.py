"""Endpoints for apps that may not be installed (what-if, plans, alerts): registered only when
the app is in INSTALLED_APPS and its API module imports, so a half-built feature app never takes
the whole API down (a warning is logged instead)."""

from __future__ import annotations

import importlib
import logging

from django.conf import settings

log = logging.getLogger(__name__)
OPTIONAL = {
    "planner.whatif": "planner.api.views_whatif",
    "planner.alerts": "planner.api.views_alerts",
    "planner.plans": "planner.api.views_plans",
}


def register_optional(router) -> list[str]:
    """Register each installed feature app's viewsets; returns the app names registered."""
    done = []
    for app, module in OPTIONAL.items():
        if app not in settings.INSTALLED_APPS:
            continue
        try:
            views = importlib.import_module(module)
        except ImportError as exc:
            log.warning("API endpoints for %s are not available yet: %s", app, exc)
            continue
        views.register(router)
        done.append(app)
    return done
