from django.db import migrations, models

MARK = "#fingerprint="


def split_source_uris(apps, schema_editor):
    """Runs stored before the field kept the fingerprint as a suffix of source_uri."""
    IngestRun = apps.get_model("billing", "IngestRun")
    for run in IngestRun.objects.filter(source_uri__contains=MARK).only("pk", "source_uri"):
        uri, _, fingerprint = run.source_uri.partition(MARK)
        IngestRun.objects.filter(pk=run.pk).update(source_uri=uri, fingerprint=fingerprint[:128])


def join_source_uris(apps, schema_editor):
    IngestRun = apps.get_model("billing", "IngestRun")
    for run in IngestRun.objects.exclude(fingerprint="").only("pk", "source_uri", "fingerprint"):
        uri = (run.source_uri + MARK + run.fingerprint)[:1000]
        IngestRun.objects.filter(pk=run.pk).update(source_uri=uri)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_ingest_run_source_choices"),
    ]

    operations = [
        migrations.AddField(
            model_name="ingestrun",
            name="fingerprint",
            field=models.CharField(
                blank=True,
                help_text="Version of the export read (e.g. a hash of its ETags); '' when unknown",
                max_length=128,
            ),
        ),
        migrations.RunPython(split_source_uris, join_source_uris),
    ]
