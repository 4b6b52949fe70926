"""Token authentication that reads the token, its user and the user's role in one query.

DRF's ``TokenAuthentication`` reads the token with its user; ``HasRole`` then asks for the user's
groups (a second query on every API request). Here the role comes with the token, as a subquery
(:func:`planner.core.roles.role_subquery`), and is remembered on the user object the request
keeps, so ``user_role`` asks nothing more. Same checks, same answers: an unknown token or an
inactive user is refused before any view runs.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from planner.core.roles import remember_role, role_subquery


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = (
                model.objects.select_related("user")
                .annotate(user_role=role_subquery("user_id"))
                .get(key=key)
            )
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        remember_role(token.user, token.user_role)
        return (token.user, token)
