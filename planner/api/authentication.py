"""Token authentication that reads the token, its user and the user's role in one statement.

DRF's ``TokenAuthentication`` reads the token with its user (an ORM query compiled on every
request); ``HasRole`` then asks for the user's groups (a second query). Here one SQL statement,
written once from the models' metadata, returns the token, the user and the highest role the
user's groups give (as :func:`planner.core.roles.user_role` ranks them), and the role is
remembered on the user object the request keeps, so ``user_role`` asks nothing more. The ORM
version of the same query (a subquery ordered by rank) cost more Python to compile than the two
queries it replaced. Same checks, same answers: an unknown token or an inactive user is refused
before any view runs.
"""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from planner.core.roles import highest_role_sql, user_columns, user_from_row


@functools.cache
def _statement(vendor: str, token_model) -> str:
    """SELECT token columns, user columns, role FROM token JOIN user WHERE key = %s (written
    once per database vendor, as the session backend's in planner/core/roles.py)."""
    q = connection.ops.quote_name
    user_model = get_user_model()
    token_user = f"t.{q(token_model._meta.get_field('user').column)}"
    columns = [f"t.{q(f.column)}" for f in token_model._meta.concrete_fields]
    columns += user_columns("u")
    return (
        f"SELECT {', '.join(columns)}, {highest_role_sql(token_user)}"
        f" FROM {q(token_model._meta.db_table)} t"
        f" JOIN {q(user_model._meta.db_table)} u"
        f" ON u.{q(user_model._meta.pk.column)} = {token_user}"
        f" WHERE t.{q(token_model._meta.get_field('key').column)} = %s"
    )


@functools.cache
def _token_attnames(token_model) -> tuple[str, ...]:
    return tuple(f.attname for f in token_model._meta.concrete_fields)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token_model = self.get_model()
        with connection.cursor() as cursor:
            cursor.execute(_statement(connection.vendor, token_model), [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token_fields = _token_attnames(token_model)
        n = len(token_fields)
        token = token_model.from_db(connection.alias, token_fields, row[:n])
        user = user_from_row(row[n:])  # its columns, then its role
        token.user = user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (user, token)
