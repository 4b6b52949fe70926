"""The dashboard's first-run hint: what the demo contains and where each use of Headroom lives.

Shown to each user until they dismiss it (a DismissedHint row, per user). The facts are counted
from the database, so they describe whatever this instance holds; the demo paragraph appears only
when the demo fleet is loaded.
"""

from __future__ import annotations

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.urls import NoReverseMatch, reverse

from planner.core.models import CloudAccount, DismissedHint, Service

FIRST_RUN = "first-run"
HINTS = (FIRST_RUN,)


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _count(app_model: str, **filters) -> int | None:
    app_label, model = app_model.split(".")
    if not apps.is_installed(f"planner.{app_label}"):
        return None
    return apps.get_model(app_label, model).objects.filter(**filters).count()


def is_dismissed(user, hint: str) -> bool:
    return DismissedHint.objects.filter(user=user, hint=hint).exists()


def dismiss(user, hint: str) -> None:
    """Remember that `user` closed `hint` (idempotent)."""
    if hint not in HINTS:
        raise ValueError(f"unknown hint {hint!r}; known hints: {', '.join(HINTS)}")
    try:
        with transaction.atomic():
            DismissedHint.objects.get_or_create(user=user, hint=hint)
    except IntegrityError:  # a second tab dismissed it at the same moment
        pass


def first_run_hint(user) -> dict | None:
    """The hint's facts and links for `user`, or None once they dismissed it. The facts are the
    same for everyone: cached per data version for a minute (ten counts and a date span over the
    partitioned rollups were most of a cached dashboard's time)."""
    if not getattr(user, "is_authenticated", False) or is_dismissed(user, FIRST_RUN):
        return None
    from planner.core.dashboard import cached_value

    return dict(cached_value(FIRST_RUN, {}, _facts, timeout=60))


def _facts() -> dict:
    from planner.billing.models import CostRollup
    from planner.core.seeding import demo_is_loaded

    span = CostRollup.objects.aggregate(lo=Min("date"), hi=Max("date"))
    uses = [
        (
            "See where the money goes",
            "Spend per service, provider and pricing category, unit "
            "cost per modality, and what is still unallocated.",
            [("Dashboard", _url("dashboard")), ("Services", _url("services"))],
        ),
        (
            "Plan capacity before anyone scales",
            "Cheapest mix of spot, committed and on-demand "
            "capacity that keeps each service's latency SLO, and what-if simulations.",
            [
                ("Recommendations", _url("recommendations")),
                ("What-if", _url("whatif")),
                ("Plans", _url("plans")),
            ],
        ),
        (
            "Hear about it when spend goes wrong",
            "Cost anomalies with their likely cause, budgets "
            "with forecasts, and every alert email as its recipients saw it.",
            [
                ("Anomalies", _url("anomalies")),
                ("Budgets", _url("budgets")),
                ("Notifications", _url("notifications")),
            ],
        ),
    ]
    return {
        "demo": demo_is_loaded(),
        "services": Service.objects.count(),
        "accounts": CloudAccount.objects.count(),
        "providers": CloudAccount.objects.values("provider").distinct().count(),
        "first_day": span["lo"],
        "last_day": span["hi"],
        "anomalies": _count("alerts.Anomaly"),
        "budgets": _count("alerts.Budget"),
        "notifications": _count("alerts.Notification"),
        "plans": _count("plans.Plan"),
        "uses": [
            {"title": t, "text": text, "links": [(label, url) for label, url in links if url]}
            for t, text, links in uses
        ],
    }
