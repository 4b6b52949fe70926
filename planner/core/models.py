"""The fleet: cloud accounts, multimodal services and their GPU deployments."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models


class Provider(models.TextChoices):
    AWS = "aws", "AWS"
    AZURE = "azure", "Azure"
    GCP = "gcp", "Google Cloud"
    OTHER = "other", "Other (FOCUS file)"


class Modality(models.TextChoices):
    LLM_CHAT = "llm_chat", "LLM chat"
    EMBEDDINGS = "embeddings", "Embeddings"
    IMAGE_GENERATION = "image_generation", "Image generation"
    SPEECH_TO_TEXT = "speech_to_text", "Speech-to-text"
    TEXT_TO_SPEECH = "text_to_speech", "Text-to-speech"
    VIDEO = "video", "Video"
    BATCH = "batch", "Batch pipeline"


class IngestSource(models.TextChoices):
    FOCUS_FILE = "focus_file", "FOCUS file (upload, path or s3://)"
    AWS_EXPORT = "aws_export", "AWS CUR 2.0 / FOCUS data export (S3)"
    AWS_COST_EXPLORER = "aws_cost_explorer", "AWS Cost Explorer"
    AZURE_QUERY = "azure_query", "Azure Cost Management Query"
    AZURE_EXPORT = "azure_export", "Azure FOCUS cost export"
    GCP_BIGQUERY = "gcp_bigquery", "Google Cloud BigQuery billing export"


class CloudAccount(models.Model):
    """A billing account Headroom reads. Credentials are never stored here: only a reference to
    the provider SDK's default chain or the *name* of an environment variable."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    account_id = models.CharField(
        max_length=128, help_text="Billing account / subscription / project id"
    )
    name = models.CharField(max_length=200)
    source = models.CharField(
        max_length=32, choices=IngestSource.choices, default=IngestSource.FOCUS_FILE
    )
    source_uri = models.CharField(
        max_length=500,
        blank=True,
        help_text="e.g. s3://bucket/prefix, a storage path or a BigQuery table",
    )
    credential_ref = models.CharField(
        max_length=200,
        default="default-chain",
        help_text="'default-chain' (instance role / managed identity / workload identity) or the NAME of "
        "an environment variable holding a profile; never a secret",
    )
    ingest_interval_hours = models.PositiveIntegerField(
        default=6, validators=[MinValueValidator(1)]
    )
    enabled = models.BooleanField(default=True)
    last_ingest_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "account_id"], name="uniq_account")
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} · {self.name} ({self.account_id})"

    def clean(self) -> None:
        from planner.core.credentials import credential_ref_problem

        problem = credential_ref_problem(self.credential_ref)
        if problem:
            raise ValidationError({"credential_ref": problem})
        if self.source == IngestSource.FOCUS_FILE:
            from planner.core.import_paths import focus_source_problem

            problem = focus_source_problem(self.source_uri)
            if problem:
                raise ValidationError({"source_uri": problem})


class Service(models.Model):
    """A multimodal inference service; billing records are attributed to it through tags."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    modality = models.CharField(max_length=32, choices=Modality.choices)
    unit_of_work = models.CharField(
        max_length=40, help_text="e.g. '1k tokens', '1k images', 'audio-hour'"
    )
    units_per_request = models.FloatField(
        default=1.0,
        help_text="Units of work one request represents (e.g. 1.2 for 1,200 tokens per request)",
    )
    latency_slo_p95_ms = models.PositiveIntegerField(
        help_text="p95 latency objective, milliseconds"
    )
    team = models.CharField(max_length=100, blank=True)
    tag_value = models.CharField(
        max_length=120,
        blank=True,
        help_text="Tag value that attributes cost to this service (default: slug)",
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.tag_value:
            self.tag_value = self.slug
        super().save(*args, **kwargs)


class Autoscaler(models.TextChoices):
    """The export target a deployment's plans are rendered for (its autoscaler)."""

    UNDECLARED = "", "Not declared (exports unchecked)"
    KEDA = "keda", "KEDA ScaledObject"
    HPA = "hpa", "HPA autoscaling/v2"
    KARPENTER = "karpenter", "KEDA + Karpenter NodePools"
    AWS = "aws", "AWS Application Auto Scaling (SageMaker)"


class Deployment(models.Model):
    """A service on one GPU type (or MIG profile) in one region, with replica bounds.
    ``autoscaler``: the export target; what it cannot express is never recommended."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="deployments")
    account = models.ForeignKey(
        CloudAccount, on_delete=models.PROTECT, related_name="deployments", null=True
    )
    name = models.SlugField(max_length=120, unique=True)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    region = models.CharField(max_length=64)
    instance_type = models.CharField(max_length=64)
    gpu_model = models.CharField(max_length=64)
    gpu_count = models.PositiveIntegerField(default=1)
    mig_profile = models.CharField(max_length=32, blank=True)
    min_replicas = models.PositiveIntegerField(default=1)
    max_replicas = models.PositiveIntegerField(default=10)
    throughput_rps_per_replica = models.FloatField(
        help_text="Sustained requests per second one replica serves within the SLO"
    )
    cluster = models.CharField(max_length=100, blank=True)
    namespace = models.CharField(max_length=100, default="default")
    autoscaler = models.CharField(
        max_length=16, choices=Autoscaler.choices, blank=True, default=Autoscaler.UNDECLARED
    )

    class Meta:
        ordering = ["service__name", "name"]

    def __str__(self) -> str:
        return f"{self.service} on {self.instance_type} ({self.region})"


class DismissedHint(models.Model):
    """A page hint a user closed (e.g. the dashboard's first-run tour); one row per user and
    hint, so it stays closed on every device and browser for that user, and only for them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dismissed_hints"
    )
    hint = models.SlugField(max_length=50)
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "hint"], name="one_dismissal_per_user_hint")
        ]

    def __str__(self) -> str:
        return f"{self.user} dismissed {self.hint}"
