from django.apps import apps
from django.core.management.base import BaseCommand

from planner.core.seeding import demo_is_loaded, seed_demo, seed_extras


class Command(BaseCommand):
    help = "Load the demo fleet (seven multimodal GPU services on AWS, Azure and GCP), deterministic per seed."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--usage-step-min", type=int, default=5, help="usage sample resolution, minutes"
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if the demo fleet is loaded"
        )

    def handle(self, *args, days, seed, usage_step_min, if_empty, **options):
        if if_empty and demo_is_loaded():
            self.stdout.write(
                "Demo fleet already loaded; skipping (run seed_demo without --if-empty to reload)."
            )
            if apps.is_installed("planner.alerts"):
                from planner.alerts.demo import ensure_demo_budgets

                added = ensure_demo_budgets()
                if added:
                    self.stdout.write(f"  {added}")
            return
        self.stdout.write(f"Loading the demo fleet: {days} days, seed {seed}…")
        anomalies = seed_demo(
            days=days, seed=seed, usage_step_min=usage_step_min, log=self.stdout.write
        )
        for a in anomalies:
            self.stdout.write(f"  injected anomaly: {a.description} ({a.start:%Y-%m-%d %H:%M})")
        for line in seed_extras():
            self.stdout.write(f"  {line}")
        self.stdout.write(self.style.SUCCESS("Demo fleet loaded."))
