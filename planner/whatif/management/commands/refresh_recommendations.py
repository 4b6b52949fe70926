"""Recompute every service's open recommendations from its latest usage samples and bills."""

from django.core.management.base import BaseCommand

from planner.core.models import Service
from planner.whatif.services import RECOMMENDATION_WINDOW_DAYS, generate_recommendations


class Command(BaseCommand):
    help = "Recompute open recommendations (right-size, commitment, spot share, thresholds) for every service."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=RECOMMENDATION_WINDOW_DAYS, help="Evidence window in days"
        )
        parser.add_argument(
            "--service", action="append", help="Only this service slug (repeatable)"
        )

    def handle(self, *args, **opts):
        services = Service.objects.all()
        if opts["service"]:
            services = services.filter(slug__in=opts["service"])
        total = 0
        for s in services:
            recs = generate_recommendations(s, window_days=opts["days"])
            total += len(recs)
            self.stdout.write(f"{s.slug}: {len(recs)} recommendation(s)")
        self.stdout.write(self.style.SUCCESS(f"{total} open recommendation(s)"))
