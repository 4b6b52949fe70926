"""Issue (or rotate) an API token for a user: `manage.py issue_token alice [--rotate]`.

The token is printed once on stdout, never logged; scripts send it as
`Authorization: Token <key>`.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from planner.core.roles import ROLES, assign_role, user_role


class Command(BaseCommand):
    help = "Print an API token for USER (created if missing; --rotate replaces an existing one)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="Replace the existing token")
        parser.add_argument(
            "--create-user",
            choices=ROLES,
            metavar="ROLE",
            help="Create the user with this role if it does not exist (no password)",
        )

    def handle(self, username, rotate=False, create_user=None, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create_user:
                raise CommandError(
                    f"no user {username!r}; create one first or pass --create-user ROLE"
                )
            user = User.objects.create_user(username=username)
            user.set_unusable_password()
            user.save()
            assign_role(user, create_user)
        if user_role(user) is None:
            raise CommandError(
                f"{username!r} holds no Headroom role; assign viewer, analyst or admin first"
            )
        if rotate:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
