from planner.core.roles import ADMIN, ANALYST, has_role, user_role


def headroom(request):
    user = getattr(request, "user", None)
    return {
        "user_role": user_role(user) if user else None,
        "can_analyse": bool(user) and has_role(user, ANALYST),
        "can_admin": bool(user) and has_role(user, ADMIN),
    }
