"""The UI's role matrix, applied to the API.

Reading (GET/HEAD/OPTIONS) needs the viewer role; each view names the role a change needs
(`write_role`, or `action_roles` per viewset action). Anything not named is admin-only, so a
new endpoint is closed by default.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from planner.core.roles import ADMIN, VIEWER, has_role


def required_role(view, request) -> str:
    action = getattr(view, "action", None)
    per_action = getattr(view, "action_roles", {}) or {}
    if action in per_action:
        return per_action[action]
    if request.method in SAFE_METHODS:
        return VIEWER
    return getattr(view, "write_role", ADMIN)


class HasRole(BasePermission):
    """Authenticated and holding at least the role the view/action requires."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        role = required_role(view, request)
        if not has_role(user, role):
            self.message = f"This action needs the {role} role."
            return False
        return True


class OwnerOrAdminToChange(BasePermission):
    """Changing or deleting a budget or scenario: its creator (an analyst) or an admin."""

    message = "Only the analyst who created this object or an admin may change or delete it."

    def has_object_permission(self, request, view, obj):
        from planner.core.roles import can_change_owned

        return request.method in SAFE_METHODS or can_change_owned(request.user, obj)
