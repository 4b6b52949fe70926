"""Usage samples and the metrics connectors' configuration (DCGM, inference servers).

``UsageSample`` moved here from ``billing`` with its table kept (``billing_usagesample``): the
data stays where it was, only the owning app changed.
"""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from planner.core.models import Deployment, Service


class UsageSample(models.Model):
    """GPU, traffic and inference-server metrics for one deployment over one step.

    Amount fields (``input_tokens``, ``images``, ``audio_seconds`` ...) are counts in the
    step; level fields (``batch_size``, ``queue_depth``, ``*_ms``) are values at the step.
    ``None`` means not measured, never zero.
    """

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="usage_samples"
    )
    ts = models.DateTimeField()
    step_seconds = models.PositiveIntegerField(default=60)
    mig_profile = models.CharField(max_length=32, blank=True)
    replicas = models.FloatField(null=True, blank=True)
    gpu_util_pct = models.FloatField(null=True, blank=True)
    gpu_mem_used_gib = models.FloatField(null=True, blank=True)
    gpu_mem_total_gib = models.FloatField(null=True, blank=True)
    request_rate_rps = models.FloatField(null=True, blank=True)
    queue_depth = models.FloatField(null=True, blank=True)
    p50_latency_ms = models.FloatField(null=True, blank=True)
    p95_latency_ms = models.FloatField(null=True, blank=True)
    units_of_work = models.FloatField(
        null=True, blank=True, help_text="In the service's unit of work"
    )
    # inference-server metrics (planner.usage.tasks / ingest.prometheus.serving)
    requests_succeeded = models.FloatField(null=True, blank=True)
    input_tokens = models.FloatField(null=True, blank=True)
    output_tokens = models.FloatField(null=True, blank=True)
    images = models.FloatField(null=True, blank=True)
    audio_seconds = models.FloatField(null=True, blank=True)
    video_seconds = models.FloatField(null=True, blank=True)
    prefill_seconds = models.FloatField(null=True, blank=True)
    decode_seconds = models.FloatField(null=True, blank=True)
    batch_size = models.FloatField(null=True, blank=True)
    service_time_ms = models.FloatField(null=True, blank=True)
    queue_time_ms = models.FloatField(null=True, blank=True)
    running_requests = models.FloatField(null=True, blank=True)
    kv_cache_pct = models.FloatField(null=True, blank=True)
    ttft_p95_ms = models.FloatField(null=True, blank=True)
    itl_p95_ms = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "billing_usagesample"
        ordering = ["deployment", "ts"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "ts", "mig_profile"], name="uniq_usage_sample"
            )
        ]
        indexes = [models.Index(fields=["ts"], name="billing_usa_ts_501c4a_idx")]


class ServingStack(models.TextChoices):
    NONE = "", "None (DCGM and request metrics only)"
    VLLM = "vllm", "vLLM"
    TRITON = "triton", "NVIDIA Triton (incl. NIM)"
    TGI = "tgi", "Hugging Face TGI"
    GENERIC = "generic", "Custom counters (generic mapping)"


class ServingEndpoint(models.Model):
    """Which inference server a deployment runs, hence which metrics measure its units."""

    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, related_name="serving_endpoint"
    )
    stack = models.CharField(max_length=16, choices=ServingStack.choices, blank=True)
    metrics_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='Generic stack only: {"images": "imagegen_images_total", "audio_seconds": ...}',
    )

    def __str__(self) -> str:
        return f"{self.deployment.name}: {self.get_stack_display()}"


class HistogramKind(models.TextChoices):
    E2E = "e2e", "End-to-end latency"
    TTFT = "ttft", "Time to first token"
    ITL = "itl", "Inter-token latency"
    QUEUE = "queue", "Queue time"


class LatencyHistogram(models.Model):
    """Requests per latency bucket of one deployment over one window (an hour by default).

    Quantiles over any range are read from the summed buckets, not averaged percentiles.
    ``bounds_ms`` ascending, the last ``null`` for +Inf; ``counts`` per bucket (not cumulative).
    """

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="latency_histograms"
    )
    kind = models.CharField(max_length=8, choices=HistogramKind.choices)
    end = models.DateTimeField(help_text="End of the window")
    seconds = models.PositiveIntegerField(default=3600)
    source_metric = models.CharField(max_length=120)
    bounds_ms = models.JSONField()
    counts = models.JSONField()

    class Meta:
        ordering = ["deployment", "kind", "end"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "kind", "end"], name="uniq_latency_histogram"
            )
        ]
        indexes = [models.Index(fields=["end"], name="usage_hist_end_idx")]


class ServiceServingTargets(models.Model):
    """Per-service chat SLOs (time to first token, inter-token) and the managed-API price the
    user compares against (build vs buy). Headroom bundles no vendor prices."""

    service = models.OneToOneField(
        Service, on_delete=models.CASCADE, related_name="serving_targets"
    )
    ttft_slo_p95_ms = models.PositiveIntegerField(null=True, blank=True)
    itl_slo_p95_ms = models.PositiveIntegerField(null=True, blank=True)
    managed_api_name = models.CharField(max_length=120, blank=True)
    managed_usd_per_1m_input = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    managed_usd_per_1m_output = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    managed_price_source = models.CharField(
        max_length=300, blank=True, help_text="Where the price comes from and its date"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.service}: serving targets"
