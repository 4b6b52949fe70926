"""PostgreSQL: the rollup table becomes partitioned by month on `date` (planner/billing/
partitions.py). Nothing changes on SQLite, and Django's model state is unchanged (the primary
key (id, date) is PostgreSQL's requirement; ids stay unique through their identity sequence)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from planner.billing.partitions import partition_to_rollups

    partition_to_rollups(schema_editor.connection)


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("billing", "0006_ingest_run_lease_for_worker_takeover")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
