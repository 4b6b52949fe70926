"""The notifications page: every email and webhook message Headroom sent or tried.

Analysts and admins see recipients and open each message as its recipient saw it (the HTML in a
sandboxed iframe, and the text part); viewers see the list of subjects only, because alert
emails name people and carry spend detail meant for their recipients.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from planner.alerts.models import (
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from planner.alerts.notification_log import rendered_email
from planner.core.roles import ANALYST, has_role

PAGE_SIZE = 50
FILTERS = {
    "channel": NotificationChannel,
    "kind": NotificationKind,
    "status": NotificationStatus,
}


def notifications(request):
    full = has_role(request.user, ANALYST)
    qs = Notification.objects.defer("raw_message", "text_body")
    chosen = {}
    for name, choices in FILTERS.items():
        value = request.GET.get(name, "")
        if value in choices.values:
            qs = qs.filter(**{name: value})
            chosen[name] = value
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = [(name, choices.choices, chosen.get(name, "")) for name, choices in FILTERS.items()]
    query = "&".join(f"{k}={v}" for k, v in chosen.items())
    return render(
        request,
        "alerts/notifications.html",
        {"page": page, "full": full, "filters": filters, "query": query},
    )


def notification_detail(request, pk: int):
    if not has_role(request.user, ANALYST):
        raise PermissionDenied(
            "Reading sent messages needs the analyst role; viewers see the subjects only."
        )
    notification = get_object_or_404(
        Notification.objects.select_related("budget", "budget_alert", "subscription", "anomaly"),
        pk=pk,
    )
    rendered = None
    preview = ""
    if notification.channel == NotificationChannel.EMAIL and notification.raw_message:
        rendered = rendered_email(notification)
        # Links in the preview open outside the sandboxed frame.
        preview = rendered.html.replace("<head>", '<head><base target="_blank">', 1)
    return render(
        request,
        "alerts/notification_detail.html",
        {"n": notification, "rendered": rendered, "preview": preview},
    )
