from django.core.management.base import BaseCommand

from planner.alerts import budgets, detection, notify


class Command(BaseCommand):
    help = "Detect cost anomalies in the stored rollups, announce new ones and evaluate budgets."

    def add_arguments(self, parser):
        parser.add_argument("--no-budgets", action="store_true", help="Skip budget evaluation")

    def handle(self, *args, **options):
        new_ids = detection.detect_cost_anomalies()
        emails = notify.notify_new_anomalies(new_ids)
        self.stdout.write(f"{len(new_ids)} new anomalies, {emails} alert emails sent")
        if not options["no_budgets"]:
            sent = budgets.evaluate_all()
            self.stdout.write(
                f"{len(sent)} budgets evaluated, {sum(map(len, sent.values()))} alerts sent"
            )
