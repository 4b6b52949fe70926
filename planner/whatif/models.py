"""Recommendations (what Headroom advises) and scenarios (what-ifs an analyst runs).

Money is USD per 730-hour month unless a field says otherwise; SLO attainment is the share of
minutes (0..1) whose p95 latency is within the service's objective.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from planner.core.models import Service


class RecommendationKind(models.TextChoices):
    RIGHT_SIZE = "right-size", "Right-size"
    COMMITMENT = "commitment", "Commitment purchase"
    SPOT_SHARE = "spot-share", "Spot share"
    THRESHOLD = "threshold", "Autoscaling threshold"
    PLAN = "plan", "Joint optimum"


class RecommendationStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"


class SloRisk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Recommendation(models.Model):
    """One piece of advice for one service, with the evidence it rests on.

    ``proposal`` holds the what-if parameters that reproduce it (the "simulate" button opens
    the what-if form with them); ``evidence`` the simulated current vs proposed figures;
    ``assumptions`` plain-language statements shown beside the numbers.
    """

    kind = models.CharField(max_length=16, choices=RecommendationKind.choices)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="recommendations")
    title = models.CharField(max_length=300)
    monthly_savings_usd = models.DecimalField(max_digits=14, decimal_places=2)
    current_monthly_cost_usd = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    confidence = models.FloatField(help_text="0..1: how much evidence backs the figure")
    slo_risk = models.CharField(max_length=8, choices=SloRisk.choices)
    evidence_start = models.DateTimeField()
    evidence_end = models.DateTimeField()
    assumptions = models.JSONField(default=list, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    proposal = models.JSONField(
        default=dict, blank=True, help_text="What-if parameters reproducing this advice"
    )
    status = models.CharField(
        max_length=16, choices=RecommendationStatus.choices, default=RecommendationStatus.OPEN
    )
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-monthly_savings_usd"]
        indexes = [models.Index(fields=["status", "service"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.service} · ${self.monthly_savings_usd}/month"

    def decide(self, status: str, user, reason: str) -> None:
        if status not in (RecommendationStatus.ACCEPTED, RecommendationStatus.DISMISSED):
            raise ValueError(f"a decision is 'accepted' or 'dismissed', not {status!r}")
        self.status, self.reason, self.decided_by, self.decided_at = (
            status,
            reason,
            user,
            timezone.now(),
        )
        self.save(update_fields=["status", "reason", "decided_by", "decided_at"])


class ScenarioStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Scenario(models.Model):
    """A what-if over one or more services: GPU type / MIG profile, batching, quantisation,
    cache hit rate, warm pool, purchase mix and autoscaling thresholds, simulated against
    each service's recorded demand. ``result`` holds per-service baseline vs scenario
    figures and per-minute replica and p95 latency series (see planner.whatif.engine)."""

    name = models.CharField(max_length=200)
    services = models.ManyToManyField(Service, related_name="scenarios")
    parameters = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=ScenarioStatus.choices, default=ScenarioStatus.QUEUED
    )
    progress = models.FloatField(default=0.0, help_text="0..1")
    progress_message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    saved = models.BooleanField(default=False)
    recommendation = models.ForeignKey(
        Recommendation, null=True, blank=True, on_delete=models.SET_NULL, related_name="scenarios"
    )
    task_id = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in (ScenarioStatus.QUEUED, ScenarioStatus.RUNNING)


class ServiceCalibration(models.Model):
    """The latest calibration of a service's model against its bill and observed SLO
    (:func:`planner.whatif.calibration.calibrate`), kept so pages need not re-simulate.
    ``figures`` holds the calibration command's line for the service, ``backtest`` the
    held-out replay of the recommendation chosen on the earlier part of the window."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="calibration")
    evidence_start = models.DateTimeField()
    evidence_end = models.DateTimeField()
    figures = models.JSONField(default=dict)
    backtest = models.JSONField(default=dict, blank=True)
    calibrated = models.BooleanField(
        help_text="compute within the cost-error threshold and SLO within the gap threshold"
    )
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"calibration of {self.service}"
