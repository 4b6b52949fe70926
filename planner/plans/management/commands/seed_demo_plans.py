from django.core.management.base import BaseCommand

from planner.plans.demo import seed_demo_plans


class Command(BaseCommand):
    help = (
        "Create the demo plans (v1 applied 'As deployed', v2 draft 'Right-sized') from the fleet."
    )

    def handle(self, *args, **options):
        plans = seed_demo_plans()
        if not plans:
            self.stdout.write("No deployments yet; run seed_demo first.")
        for p in plans:
            self.stdout.write(
                f"v{p.version} {p.status}: {p.name} (${p.expected_monthly_cost_usd:,.2f}/month)"
            )
