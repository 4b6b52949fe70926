from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_merge_currency_and_usage_move")]

    operations = [
        migrations.AddField(
            model_name="ingestrun",
            name="lease_expires_at",
            field=models.DateTimeField(
                blank=True,
                null=True,
                help_text="While running: the worker's heartbeat keeps this in the future; once it has passed, the worker is gone and the requeue sweep hands the run to another",
            ),
        ),
    ]
