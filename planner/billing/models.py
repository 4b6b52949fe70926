"""Cost storage: ingest runs, the per-period load pointer, daily rollups (usage samples: planner.usage).

Line items themselves live as Parquet (see store.py); the database holds the daily rollups the
UI reads and, per account × billing period, which Parquet version is current. Both are switched
in one transaction, so a period is replaced atomically or not at all.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from planner.core.models import CloudAccount, IngestSource, Service


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RunSource(models.TextChoices):
    """What an ingest run read: an account's billing source (the values of
    ``core.IngestSource``), Prometheus usage metrics, or the generated demo fleet."""

    FOCUS_FILE = IngestSource.FOCUS_FILE.value, IngestSource.FOCUS_FILE.label
    AWS_EXPORT = IngestSource.AWS_EXPORT.value, IngestSource.AWS_EXPORT.label
    AWS_COST_EXPLORER = IngestSource.AWS_COST_EXPLORER.value, IngestSource.AWS_COST_EXPLORER.label
    AZURE_QUERY = IngestSource.AZURE_QUERY.value, IngestSource.AZURE_QUERY.label
    AZURE_EXPORT = IngestSource.AZURE_EXPORT.value, IngestSource.AZURE_EXPORT.label
    GCP_BIGQUERY = IngestSource.GCP_BIGQUERY.value, IngestSource.GCP_BIGQUERY.label
    PROMETHEUS = "prometheus", "Prometheus usage metrics"
    DEMO = "demo", "Demo fleet"


class IngestRun(models.Model):
    """One ingestion of one source (× billing period where known). The row is also the claim that
    prevents two overlapping runs for the same account and period (see the partial unique index)."""

    account = models.ForeignKey(
        CloudAccount, on_delete=models.CASCADE, related_name="ingest_runs", null=True
    )
    source = models.CharField(max_length=32, choices=RunSource.choices)
    source_uri = models.CharField(max_length=1000, blank=True)
    fingerprint = models.CharField(
        max_length=128,
        blank=True,
        help_text="Version of the export read (e.g. a hash of its ETags); '' when unknown",
    )
    period_start = models.DateField(
        null=True, blank=True, help_text="Billing period claimed, if known upfront"
    )
    allow_mixed_currency = models.BooleanField(
        default=False, help_text="The user accepted several billing currencies in this source"
    )
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1")
    progress_message = models.CharField(max_length=300, blank=True)
    rows_read = models.BigIntegerField(default=0)
    rows_stored = models.BigIntegerField(default=0)
    periods = models.JSONField(default=list, blank=True)
    totals = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While running: the worker's heartbeat keeps this in the future; once it has "
        "passed, the worker is gone and the requeue sweep hands the run to another",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period_start"],
                condition=Q(status__in=["queued", "running"]) & Q(period_start__isnull=False),
                name="one_active_run_per_account_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} run #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)


class BillingPeriodLoad(models.Model):
    """Which line-item version is current for an account × billing period."""

    account = models.ForeignKey(CloudAccount, on_delete=models.CASCADE, related_name="period_loads")
    billing_period_start = models.DateField()
    version = models.CharField(max_length=64)
    run = models.ForeignKey(IngestRun, null=True, on_delete=models.SET_NULL, related_name="+")
    rows = models.BigIntegerField()
    billed_cost = models.DecimalField(max_digits=20, decimal_places=6)
    effective_cost = models.DecimalField(max_digits=20, decimal_places=6)
    list_cost = models.DecimalField(max_digits=20, decimal_places=6)
    currency = models.CharField(max_length=8)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "-billing_period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "billing_period_start"], name="uniq_period_load"
            )
        ]


class CostRollup(models.Model):
    """Daily cost by every dimension the dashboard filters on. `service` is the Headroom service the
    record is attributed to; null means unallocated (shown, never dropped)."""

    # Single-column indexes are left out on purpose: the composite indexes below lead with
    # each of these columns, and every extra index slows the bulk replace of a period.
    date = models.DateField()
    account = models.ForeignKey(
        CloudAccount, on_delete=models.CASCADE, related_name="rollups", db_index=False
    )
    billing_period_start = models.DateField()
    provider = models.CharField(max_length=64)
    service_name = models.CharField(
        max_length=200, blank=True, help_text="Cloud service (FOCUS ServiceName)"
    )
    region = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=500, blank=True)
    sku = models.CharField(max_length=200, blank=True, help_text="SKU id as billed (FOCUS SkuId)")
    instance_type = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Instance / machine type the record bills (ingest/instance_type.py), or ''",
    )
    pricing_category = models.CharField(max_length=32, blank=True)
    charge_category = models.CharField(max_length=32, blank=True)
    service_tag = models.CharField(
        max_length=200, blank=True, help_text="Raw attribution tag value"
    )
    service = models.ForeignKey(
        Service,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rollups",
        db_index=False,
    )
    # Amounts in the reporting currency (settings.REPORTING_CURRENCY), converted at the ECB
    # reference rate of the charge date; the billing currency's originals are kept below.
    currency = models.CharField(max_length=8, default="USD", help_text="Reporting currency")
    billed_cost = models.DecimalField(max_digits=18, decimal_places=6)
    effective_cost = models.DecimalField(max_digits=18, decimal_places=6)
    list_cost = models.DecimalField(max_digits=18, decimal_places=6)
    consumed_quantity = models.FloatField(default=0.0)
    line_items = models.PositiveIntegerField(default=0)
    billing_currency = models.CharField(
        max_length=8, default="USD", help_text="FOCUS BillingCurrency of the records"
    )
    billing_billed_cost = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    billing_effective_cost = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    billing_list_cost = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    fx_rate = models.DecimalField(
        max_digits=24, decimal_places=12, default=1, help_text="reporting per billing unit"
    )
    fx_rate_date = models.DateField(
        null=True, blank=True, help_text="ECB publication day of the rate (null: same currency)"
    )

    class Meta:
        indexes = [
            models.Index(fields=["account", "billing_period_start"]),
            models.Index(fields=["service", "date"]),
            models.Index(fields=["date", "provider"]),
        ]
