from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from planner.billing import services
from planner.billing.models import RunSource, RunStatus
from planner.core.models import CloudAccount


class Command(BaseCommand):
    help = "Load a FOCUS 1.0–1.2 file (CSV, CSV.gz or Parquet; local path or s3://) for an account."

    def add_arguments(self, parser):
        parser.add_argument("source", help="path or s3://bucket/key")
        parser.add_argument(
            "--account", required=True, help="CloudAccount account id (or numeric pk)"
        )
        parser.add_argument("--allow-mixed-currency", action="store_true")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, source, account, allow_mixed_currency, no_progress, **options):
        acct = CloudAccount.objects.filter(account_id=account).first()
        if acct is None and account.isdigit():
            acct = CloudAccount.objects.filter(pk=int(account)).first()
        if acct is None:
            known = (
                ", ".join(CloudAccount.objects.values_list("account_id", flat=True)) or "none yet"
            )
            raise CommandError(f"no cloud account {account!r}; known accounts: {known}")
        run = services.create_run(acct, RunSource.FOCUS_FILE, source)
        bar = tqdm(unit=" rows", unit_scale=True, disable=no_progress, desc="ingest")
        seen = [0]

        def progress(rows):
            bar.update(rows - seen[0])
            seen[0] = rows

        run = services.execute_focus_run(
            run.pk, allow_mixed_currency=allow_mixed_currency, progress=progress
        )
        bar.close()
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(
                "ingest failed; nothing was changed:\n  " + "\n  ".join(map(str, run.errors))
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"run #{run.pk}: {run.rows_stored:,} rows in periods {', '.join(run.periods)} ({run.duration_s:.1f} s)"
            )
        )
        for period, t in run.totals.items():
            self.stdout.write(
                f"  {period}: billed {t['billed_cost']:.2f}, effective {t['effective_cost']:.2f}"
            )
