from django.conf import settings
from django.core.management.base import BaseCommand

from planner.core.seeding import ensure_demo_logins


class Command(BaseCommand):
    help = "Create (or show) the demo logins for the three roles; passwords live in var/demo_credentials.txt."

    def handle(self, *args, **options):
        creds = ensure_demo_logins()
        self.stdout.write(self.style.SUCCESS("Demo logins (local development only):"))
        for user, role in (("demo", "admin"), ("analyst", "analyst"), ("viewer", "viewer")):
            self.stdout.write(f"  {user:<8} / {creds[user]:<20} ({role})")
        self.stdout.write(f"  sign in at {settings.SITE_URL}/")
