"""UsageSample moves from billing to usage. State only: the table (billing_usagesample) and its
rows stay where they are; billing's 0004 removes the model from billing's state."""

import django.db.models.deletion
from django.db import migrations, models


def relabel_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="usage", model="usagesample").exists():
        ContentType.objects.filter(app_label="billing", model="usagesample").update(
            app_label="usage"
        )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("billing", "0003_ingest_run_keeps_currency_option"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UsageSample",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("ts", models.DateTimeField()),
                        ("step_seconds", models.PositiveIntegerField(default=60)),
                        ("mig_profile", models.CharField(blank=True, max_length=32)),
                        ("replicas", models.FloatField(blank=True, null=True)),
                        ("gpu_util_pct", models.FloatField(blank=True, null=True)),
                        ("gpu_mem_used_gib", models.FloatField(blank=True, null=True)),
                        ("gpu_mem_total_gib", models.FloatField(blank=True, null=True)),
                        ("request_rate_rps", models.FloatField(blank=True, null=True)),
                        ("queue_depth", models.FloatField(blank=True, null=True)),
                        ("p50_latency_ms", models.FloatField(blank=True, null=True)),
                        ("p95_latency_ms", models.FloatField(blank=True, null=True)),
                        ("units_of_work", models.FloatField(blank=True, help_text="In the service's unit of work", null=True)),
                        ("deployment", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="usage_samples", to="core.deployment")),
                    ],
                    options={
                        "db_table": "billing_usagesample",
                        "ordering": ["deployment", "ts"],
                        "indexes": [models.Index(fields=["ts"], name="billing_usa_ts_501c4a_idx")],
                        "constraints": [models.UniqueConstraint(fields=("deployment", "ts", "mig_profile"), name="uniq_usage_sample")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(relabel_content_type, migrations.RunPython.noop),
    ]
