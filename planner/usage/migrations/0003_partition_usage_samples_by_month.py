"""PostgreSQL: the usage-sample table becomes partitioned by month on `ts` (planner/usage/
partitions.py). Nothing changes on SQLite, and Django's model state is unchanged (the primary
key (id, ts) is PostgreSQL's requirement; ids stay unique through their identity sequence; the
unique constraint on (deployment, ts, mig_profile) already contains the partition key)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from planner.usage.partitions import USAGE_SAMPLES

    USAGE_SAMPLES.convert(schema_editor.connection)


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("usage", "0002_inference_server_metrics")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
