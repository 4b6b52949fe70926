from django.urls import reverse

from planner.core.roles import ADMIN, ANALYST, ROLE_RANK, user_role

# Main navigation: (label, url name).
NAV = [
    ("Dashboard", "dashboard"),
    ("Services", "services"),
    ("Recommendations", "recommendations"),
    ("What-if", "whatif"),
    ("Plans", "plans"),
    ("Anomalies", "anomalies"),
    ("Budgets", "budgets"),
    ("Ingestion", "ingest-runs"),
    ("Accounts", "accounts"),
    ("API", "api-docs"),
]


def _nav(request):
    current = getattr(getattr(request, "resolver_match", None), "url_name", None)
    items = []
    for label, name in NAV:
        items.append({"label": label, "url": reverse(name), "active": current == name})
    return items


def headroom(request):
    user = getattr(request, "user", None)
    role = user_role(user) if user is not None else None  # one group query per page
    rank = ROLE_RANK.get(role, 0)
    return {
        "user_role": role,
        "can_analyse": rank >= ROLE_RANK[ANALYST],
        "can_admin": rank >= ROLE_RANK[ADMIN],
        "nav_items": _nav(request) if user is not None and user.is_authenticated else [],
    }
