"""UsageSample now belongs to the usage app (state only; the table and its rows are kept)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_ingest_run_keeps_currency_option"),
        ("usage", "0001_usage_sample_moves_from_billing"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="UsageSample")],
            database_operations=[],
        ),
    ]
