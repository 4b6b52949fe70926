"""Anomalies found in cost series, their signals, and who hears about them (subscriptions,
notices: the claim that an anomaly was announced to a subscription, once)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from planner.alerts.models.common import DeliveryStatus, parse_recipients, validate_recipients


class AnomalyStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Direction(models.TextChoices):
    UP = "up", "Spend above expected"
    DOWN = "down", "Spend below expected"


class Anomaly(models.Model):
    """One episode of unexpected spend on one daily cost series.

    `series_key` names the series (``cost:total``, ``cost:service=image-gen``,
    ``cost:service=unallocated``) and `dimensions` holds the same as rollup filters. An episode
    starts on the day the online detector raised it and runs while the daily value stays outside
    the expected band; its identity is (series, start), enforced by a unique constraint, so
    running detection again updates the row instead of adding one and a resolved episode
    is never re-opened."""

    series_key = models.CharField(max_length=200)
    series_label = models.CharField(max_length=200)
    dimensions = models.JSONField(default=dict, blank=True)
    start = models.DateField(help_text="First anomalous day (UTC)")
    end = models.DateField(help_text="Last anomalous day (UTC, inclusive)")
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.UP)
    actual_usd = models.DecimalField(max_digits=18, decimal_places=2)
    expected_usd = models.DecimalField(max_digits=18, decimal_places=2)
    impact_usd = models.DecimalField(
        max_digits=18, decimal_places=2, help_text="actual − expected over the episode, USD"
    )
    score = models.FloatField(help_text="Detector score in [0, 1]")
    root_cause = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=AnomalyStatus.choices, default=AnomalyStatus.OPEN
    )
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    detected_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start", "-impact_usd"]
        verbose_name_plural = "anomalies"
        constraints = [
            models.UniqueConstraint(
                fields=["series_key", "start"], name="one_anomaly_per_series_episode"
            ),
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")), name="anomaly_end_after_start"
            ),
        ]
        indexes = [models.Index(fields=["status", "-start"])]

    def __str__(self) -> str:
        return f"{self.series_label}: {self.start} – {self.end} ({self.impact_usd:+} USD)"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def top_contributor(self) -> dict | None:
        """The most specific member explaining the deviation (see rootcause.primary), or None."""
        cause = self.root_cause or {}
        return cause.get("primary") or (cause.get("ranking") or [None])[0]


class AnomalySignal(models.Model):
    """One series watched during an anomaly's episode: the cost series itself, the usage
    behind it (GPU-hours, requests, tokens per day) or the unit cost (USD per 1k requests).

    Related signals of one service form one episode -- one Anomaly, one alert -- with a
    signal per series; ``flagged`` says whether that series' own detector raised it (a
    runaway scale-out shows on GPU-hours even when daily cost stays inside its band).
    Values are in ``unit`` (daily sums, or a ratio for unit cost); ``lower``/``upper`` are
    the expected band and ``z`` the robust residual z-score on the episode's first day."""

    anomaly = models.ForeignKey(Anomaly, on_delete=models.CASCADE, related_name="signals")
    series_key = models.CharField(max_length=200)
    label = models.CharField(max_length=200)
    unit = models.CharField(max_length=40)
    start = models.DateField()
    end = models.DateField()
    actual = models.FloatField(help_text="Episode total (or mean, for a ratio) in unit")
    expected = models.FloatField()
    lower = models.FloatField(help_text="Expected band on the first day, in unit")
    upper = models.FloatField()
    z = models.FloatField(help_text="Robust residual z-score on the first day")
    score = models.FloatField(help_text="Detector score in [0, 1]")
    flagged = models.BooleanField(default=False)

    class Meta:
        ordering = ["-flagged", "series_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["anomaly", "series_key"], name="one_signal_per_anomaly_series"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({'flagged' if self.flagged else 'in band'})"


class DigestMode(models.TextChoices):
    IMMEDIATE = "immediate", "One email per anomaly"
    DAILY = "daily", "Daily digest"


class AnomalySubscription(models.Model):
    """Who hears about anomalies, and how: immediately or in a daily digest, above an impact."""

    name = models.CharField(max_length=200)
    recipients = models.TextField(validators=[validate_recipients])
    mode = models.CharField(max_length=16, choices=DigestMode.choices, default=DigestMode.IMMEDIATE)
    min_impact_usd = models.DecimalField(
        max_digits=18,
        decimal_places=2,
        default=Decimal("100"),
        help_text="Only anomalies whose |impact| is at least this many USD",
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_mode_display().lower()})"

    def recipient_list(self) -> list[str]:
        return parse_recipients(self.recipients)


class AnomalyNotice(models.Model):
    """The claim that `anomaly` was (or is being) announced to `subscription`; unique per pair."""

    subscription = models.ForeignKey(
        AnomalySubscription, on_delete=models.CASCADE, related_name="notices"
    )
    anomaly = models.ForeignKey(Anomaly, on_delete=models.CASCADE, related_name="notices")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.CLAIMED
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "anomaly"], name="one_notice_per_anomaly"
            )
        ]
