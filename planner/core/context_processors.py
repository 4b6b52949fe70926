import functools

from django.urls import get_script_prefix, reverse

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
    ("Notifications", "notifications"),
    ("Commitments", "commitments"),
    ("Chargeback", "chargeback"),
    ("Ingestion", "ingest-runs"),
    ("Accounts", "accounts"),
    ("API", "api-docs"),
]


@functools.lru_cache(maxsize=8)
def _nav_urls(script_prefix: str) -> tuple[tuple[str, str, str], ...]:
    """(label, url name, url) of the main navigation, reversed once per script prefix."""
    return tuple((label, name, reverse(name)) for label, name in NAV)


def _nav(request):
    current = getattr(getattr(request, "resolver_match", None), "url_name", None)
    return [
        {"label": label, "url": url, "active": current == name}
        for label, name, url in _nav_urls(get_script_prefix())
    ]


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
