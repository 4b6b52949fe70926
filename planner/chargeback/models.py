"""Showback / chargeback: teams (cost centres), the rules that allocate cost to them, and the
subscribers of scheduled reports.

Allocation (``allocation.py``) runs over the line items of a period:

1. **Tag rules** (:class:`TagRule`, lowest ``priority`` first, first match wins): a record
   whose tag ``tag_key`` equals ``tag_value`` is the team's direct cost.
2. **Shared-cost pools** (:class:`SharedCostPool`, lowest ``priority`` first, first match
   wins) take records no tag rule matched, selected by a tag or a FOCUS column, and split
   them between their teams evenly, in proportion to the teams' direct usage or direct
   spend, or by fixed percentages (:class:`FixedShare`).
3. Everything else is **unallocated** and always shown; a pool whose split basis is zero
   (no usage, no spend) or whose percentages leave a remainder adds it to unallocated.

So allocated + unallocated = the bill, always.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from planner.alerts.models import DeliveryStatus, parse_recipients, validate_recipients


class Team(models.Model):
    name = models.CharField(max_length=200, unique=True)
    cost_centre = models.CharField(max_length=100, blank=True, help_text="Finance's code")
    owner_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.cost_centre})" if self.cost_centre else self.name


class TagRule(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tag_rules")
    tag_key = models.CharField(max_length=200)
    tag_value = models.CharField(max_length=500)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first")

    class Meta:
        ordering = ["priority", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tag_key", "tag_value"], name="one_team_per_tag_value")
        ]

    def __str__(self) -> str:
        return f"{self.tag_key}={self.tag_value} → {self.team.name}"


class SplitMethod(models.TextChoices):
    EVEN = "even", "Evenly"
    USAGE = "usage", "In proportion to usage"
    SPEND = "spend", "In proportion to spend"
    FIXED = "fixed", "Fixed percentages"


class MatchField(models.TextChoices):
    TAG = "tag", "Tag (key = value)"
    SERVICE_NAME = "ServiceName", "FOCUS ServiceName"
    SERVICE_CATEGORY = "ServiceCategory", "FOCUS ServiceCategory"
    CHARGE_CATEGORY = "ChargeCategory", "FOCUS ChargeCategory"
    REGION = "RegionId", "FOCUS RegionId"
    SKU = "SkuId", "FOCUS SkuId"
    UNTAGGED = "untagged", "Every record no tag rule matched"


class SharedCostPool(models.Model):
    name = models.CharField(max_length=200, unique=True)
    match_field = models.CharField(max_length=32, choices=MatchField.choices)
    match_key = models.CharField(max_length=200, blank=True, help_text="Tag key (tag only)")
    match_value = models.CharField(max_length=500, blank=True)
    method = models.CharField(max_length=16, choices=SplitMethod.choices)
    usage_unit = models.CharField(
        max_length=64,
        default="Hours",
        help_text="ConsumedUnit whose quantity is the usage basis (usage split only)",
    )
    teams = models.ManyToManyField(Team, blank=True, help_text="Empty: every team")
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first")

    class Meta:
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.match_field == MatchField.TAG and not self.match_key:
            raise ValidationError({"match_key": "A tag pool needs the tag key to match."})
        if self.match_field != MatchField.UNTAGGED and not self.match_value:
            raise ValidationError({"match_value": "Say which value the pool takes."})


class FixedShare(models.Model):
    pool = models.ForeignKey(SharedCostPool, on_delete=models.CASCADE, related_name="shares")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    percent = models.DecimalField(max_digits=6, decimal_places=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pool", "team"], name="one_share_per_pool_team"),
            models.CheckConstraint(
                condition=models.Q(percent__gte=0) & models.Q(percent__lte=100),
                name="share_percent_0_100",
            ),
        ]


class Frequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly (previous Monday–Sunday)"
    MONTHLY = "monthly", "Monthly (previous calendar month)"


class ReportSubscription(models.Model):
    """Who receives the chargeback report, how often, and for which teams (empty: all)."""

    name = models.CharField(max_length=200)
    recipients = models.TextField(validators=[validate_recipients])
    frequency = models.CharField(max_length=16, choices=Frequency.choices)
    teams = models.ManyToManyField(Team, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.frequency})"

    def recipient_list(self) -> list[str]:
        return parse_recipients(self.recipients)


class ReportDelivery(models.Model):
    """The claim that one subscription's report for one period was (being) sent."""

    subscription = models.ForeignKey(
        ReportSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    period_key = models.CharField(max_length=16, help_text="2032-05 or 2032-W19")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.CLAIMED
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_key"], name="one_report_per_period"
            )
        ]
