"""Anomalies found in cost series, budgets with thresholds, and the record of every alert sent.

Every alert is claimed by inserting a row protected by a unique constraint *before* the email
goes out, so a crossing or an anomaly is announced once per recipient list even when the
evaluation runs twice or concurrently (the second INSERT fails and that worker sends nothing).
Money is USD (Decimal, cents); dates are UTC calendar days, ranges inclusive.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, validate_email
from django.db import models
from django.db.models import Q

from planner.core.models import CloudAccount, Service


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


class BudgetScope(models.TextChoices):
    TOTAL = "total", "All spend"
    ACCOUNT = "account", "One cloud account"
    SERVICE = "service", "One service"
    TAG = "tag", "Attribution tag value"


class BudgetPeriod(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    YEARLY = "yearly", "Yearly"


def period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date, str]:
    """(first day, last day inclusive, key) of the budget period containing `day`.

    >>> period_bounds("quarterly", dt.date(2026, 11, 5))
    (datetime.date(2026, 10, 1), datetime.date(2026, 12, 31), '2026-Q4')
    """
    if period == BudgetPeriod.MONTHLY:
        start, months, key = day.replace(day=1), 1, f"{day:%Y-%m}"
    elif period == BudgetPeriod.QUARTERLY:
        q = (day.month - 1) // 3
        start, months, key = dt.date(day.year, 3 * q + 1, 1), 3, f"{day.year}-Q{q + 1}"
    elif period == BudgetPeriod.YEARLY:
        start, months, key = dt.date(day.year, 1, 1), 12, f"{day.year}"
    else:
        raise ValueError(f"unknown budget period {period!r}")
    month_index = start.month - 1 + months
    next_start = dt.date(start.year + month_index // 12, month_index % 12 + 1, 1)
    return start, next_start - dt.timedelta(days=1), key


def parse_recipients(text: str) -> list[str]:
    """Email addresses separated by commas, semicolons, spaces or new lines."""
    return [r for r in re.split(r"[\s,;]+", text or "") if r]


def validate_recipients(text: str) -> None:
    for address in parse_recipients(text):
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                f"{address!r} is not an email address; separate addresses with commas."
            ) from None


def validate_thresholds(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, int) and 1 <= v <= 1000 for v in value):
        raise ValidationError("Thresholds must be a list of whole percentages between 1 and 1000.")


def default_actual_thresholds() -> list[int]:
    return [50, 80, 100]


def default_forecast_thresholds() -> list[int]:
    return [100]


class Budget(models.Model):
    """A spend limit for one scope and period, with percentage thresholds on the spend so far
    (`actual_thresholds`) and on the forecast spend at the end of the period
    (`forecast_thresholds`). Spend is effective cost (amortised commitments, after credits)."""

    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=16, choices=BudgetScope.choices, default=BudgetScope.TOTAL)
    account = models.ForeignKey(CloudAccount, null=True, blank=True, on_delete=models.CASCADE)
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.CASCADE)
    tag_value = models.CharField(
        max_length=200, blank=True, help_text="Attribution tag value (scope 'tag')"
    )
    period = models.CharField(
        max_length=16, choices=BudgetPeriod.choices, default=BudgetPeriod.MONTHLY
    )
    amount_usd = models.DecimalField(
        max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    actual_thresholds = models.JSONField(
        default=default_actual_thresholds, validators=[validate_thresholds], blank=True
    )
    forecast_thresholds = models.JSONField(
        default=default_forecast_thresholds, validators=[validate_thresholds], blank=True
    )
    recipients = models.TextField(
        blank=True, validators=[validate_recipients], help_text="Email addresses, comma-separated"
    )
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Optional Slack-compatible incoming webhook"
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_usd__gt=0), name="budget_amount_positive"),
            models.CheckConstraint(
                condition=(
                    Q(scope="total")
                    | Q(scope="account", account__isnull=False)
                    | Q(scope="service", service__isnull=False)
                    | (Q(scope="tag") & ~Q(tag_value=""))
                ),
                name="budget_scope_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_period_display().lower()}, ${self.amount_usd:,})"

    def clean(self) -> None:
        missing = {
            BudgetScope.ACCOUNT: ("account", self.account_id),
            BudgetScope.SERVICE: ("service", self.service_id),
            BudgetScope.TAG: ("tag_value", self.tag_value),
        }.get(self.scope)
        if missing and not missing[1]:
            raise ValidationError({missing[0]: f"Required when the scope is {self.scope}."})

    @property
    def scope_label(self) -> str:
        if self.scope == BudgetScope.ACCOUNT and self.account_id:
            return f"account {self.account.name}"
        if self.scope == BudgetScope.SERVICE and self.service_id:
            return f"service {self.service.name}"
        if self.scope == BudgetScope.TAG:
            return f"tag {self.tag_value}"
        return "all spend"

    def recipient_list(self) -> list[str]:
        return parse_recipients(self.recipients)

    def costs(self):
        """The spend this budget counts, as a cost view (planner/billing/reports.py): a service
        budget includes the service's share of shared GPU nodes; credits are left out."""
        from planner.billing import reports

        if self.scope == BudgetScope.ACCOUNT:
            return reports.view(account=self.account_id).spend()
        if self.scope == BudgetScope.SERVICE:
            return reports.view(service=self.service.slug).spend()
        if self.scope == BudgetScope.TAG:
            return reports.view(tag=self.tag_value).spend()
        return reports.view().spend()


class AlertKind(models.TextChoices):
    ACTUAL = "actual", "Spend so far"
    FORECAST = "forecast", "Forecast at period end"


class DeliveryStatus(models.TextChoices):
    CLAIMED = "claimed", "Claimed, sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will retry)"
    SUPERSEDED = "superseded", "Crossed together with a higher threshold (one email)"


class AlertSent(models.Model):
    """One budget threshold crossing in one period. The unique constraint is the claim: whoever
    inserts the row sends the email; everybody else finds it and sends nothing."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_key = models.CharField(max_length=16, help_text="2026-10, 2026-Q4 or 2026")
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the budget")
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    spend_usd = models.DecimalField(max_digits=18, decimal_places=2)
    forecast_usd = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.CLAIMED
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_key", "threshold", "kind"], name="one_alert_per_crossing"
            )
        ]

    def __str__(self) -> str:
        return f"{self.budget.name} {self.period_key} {self.kind} {self.threshold}%"


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


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class NotificationKind(models.TextChoices):
    BUDGET = "budget", "Budget alert"
    ANOMALY = "anomaly", "Anomaly alert"
    DIGEST = "digest", "Anomaly digest"
    CHARGEBACK = "report", "Chargeback report"
    COMMITMENT = "expiry", "Commitment expiry"


class NotificationStatus(models.TextChoices):
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will be retried)"
    REJECTED = "rejected", "Rejected (not retried)"


class Notification(models.Model):
    """The log of every email and webhook message Headroom sent or tried, one row per message.

    `delivery_key` names the claim the message announces (``budget-alert:12``,
    ``anomaly-notice:7``, ``digest:3:7,8``, ``webhook:<task id>``): a retry of the same message
    updates its row (`attempts` + 1) instead of adding one. Emails keep the whole MIME message
    (`raw_message`) as it was handed to the mail backend, so the notifications page shows exactly
    what the recipient got; webhook rows keep the text posted and the redacted URL (never the
    token)."""

    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    kind = models.CharField(max_length=8, choices=NotificationKind.choices)
    delivery_key = models.CharField(max_length=200, unique=True)
    subject = models.CharField(max_length=300)
    recipients = models.JSONField(
        default=list, help_text="Email addresses, or the webhook's redacted URL"
    )
    text_body = models.TextField(blank=True)
    raw_message = models.TextField(blank=True, help_text="The MIME message as sent (emails)")
    backend = models.CharField(max_length=100, blank=True, help_text="Mail backend or 'webhook'")
    status = models.CharField(max_length=8, choices=NotificationStatus.choices)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    budget = models.ForeignKey(
        Budget, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    budget_alert = models.ForeignKey(
        AlertSent, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    subscription = models.ForeignKey(
        AnomalySubscription,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    anomaly = models.ForeignKey(
        Anomaly, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_attempt_at", "-pk"]
        indexes = [models.Index(fields=["-last_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.subject} ({self.status})"

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)
