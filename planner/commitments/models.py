"""The commitments inventory: reservations, savings plans and committed-use discounts.

A :class:`Commitment` is keyed by the provider's id (FOCUS ``CommitmentDiscountId``, which is
also the ``ContractCommitmentId`` of the Contract Commitment dataset). Rows come from the
line items (id, name, type, category), from stored Contract Commitment files (term, cost,
quantity) and from hand entry; each source fills what it knows and ``sources`` says which
did. Utilisation, coverage and unused cost are computed from the line items at read time
(``inventory.py``), so they follow every re-ingested period.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from planner.alerts.models import DeliveryStatus, parse_recipients, validate_recipients
from planner.core.models import CloudAccount


class CommitmentSource(models.TextChoices):
    LINE_ITEMS = "line_items", "Billing line items (CommitmentDiscount* columns)"
    CONTRACT = "contract_commitment", "FOCUS Contract Commitment dataset"
    CONNECTOR = "connector", "Cloud connector"
    MANUAL = "manual", "Entered by hand"


class Commitment(models.Model):
    commitment_id = models.CharField(max_length=500, unique=True)
    name = models.CharField(max_length=300, blank=True)
    commitment_type = models.CharField(
        max_length=100, blank=True, help_text="e.g. Savings Plan, Reserved Instance, CUD"
    )
    category = models.CharField(max_length=16, blank=True, help_text="FOCUS: Spend or Usage")
    provider = models.CharField(max_length=100, blank=True)
    account = models.ForeignKey(
        CloudAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contract_id = models.CharField(max_length=300, blank=True)
    quantity = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    unit = models.CharField(max_length=64, blank=True)
    term_cost = models.DecimalField(
        max_digits=20,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Whole-term commitment cost in the billing currency",
    )
    currency = models.CharField(max_length=8, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True, help_text="Expiry (first day not covered)")
    expiry_alert_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days before expiry to alert (blank: COMMITMENT_EXPIRY_ALERT_DAYS)",
    )
    sources = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["period_end", "commitment_id"]

    def __str__(self) -> str:
        return self.name or self.commitment_id

    @property
    def alert_days(self) -> int:
        if self.expiry_alert_days is not None:
            return self.expiry_alert_days
        return settings.COMMITMENT_EXPIRY_ALERT_DAYS

    def days_left(self, today: dt.date) -> int | None:
        return None if self.period_end is None else (self.period_end - today).days

    def add_source(self, source: str) -> None:
        if source not in self.sources:
            self.sources = [*self.sources, source]


class ExpiryAlertRule(models.Model):
    """Who is told, and how many days ahead, that commitments are about to expire."""

    name = models.CharField(max_length=200)
    recipients = models.TextField(
        validators=[validate_recipients], help_text="Email addresses, comma or line separated"
    )
    days_before = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Alert this many days before expiry (blank: each commitment's own setting)",
    )
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    def recipient_list(self) -> list[str]:
        return parse_recipients(self.recipients)


class ExpiryNotice(models.Model):
    """The claim that one rule announced one commitment's expiry date (sent once; a renewal
    moves the date and is announced again). A failed send is retried by the next run."""

    rule = models.ForeignKey(ExpiryAlertRule, on_delete=models.CASCADE, related_name="notices")
    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="notices")
    period_end = models.DateField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.CLAIMED
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "commitment", "period_end"], name="one_expiry_notice_per_term"
            )
        ]
