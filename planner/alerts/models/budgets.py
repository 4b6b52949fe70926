"""Budgets with thresholds on spend so far and on the forecast, and the record of every
threshold crossing announced (the claim row, unique per crossing)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from planner.alerts.models.common import DeliveryStatus, parse_recipients, validate_recipients
from planner.core.models import CloudAccount, Service


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
