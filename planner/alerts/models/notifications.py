"""The log of every email and webhook message Headroom sent or tried."""

from __future__ import annotations

from django.db import models

from planner.alerts.models.anomalies import Anomaly, AnomalySubscription
from planner.alerts.models.budgets import AlertSent, Budget


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
