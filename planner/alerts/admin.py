from django.contrib import admin

from planner.alerts.models import (
    AlertSent,
    Anomaly,
    AnomalyNotice,
    AnomalySubscription,
    Budget,
    Notification,
)


@admin.register(Anomaly)
class AnomalyAdmin(admin.ModelAdmin):
    list_display = ("series_label", "start", "end", "impact_usd", "score", "status")
    list_filter = ("status", "direction")


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("name", "scope", "period", "amount_usd", "active")
    list_filter = ("scope", "period", "active")


@admin.register(AlertSent)
class AlertSentAdmin(admin.ModelAdmin):
    list_display = ("budget", "period_key", "kind", "threshold", "status", "created_at", "sent_at")
    list_filter = ("kind", "status")


@admin.register(AnomalySubscription)
class AnomalySubscriptionAdmin(admin.ModelAdmin):
    list_display = ("name", "mode", "min_impact_usd", "active")


@admin.register(AnomalyNotice)
class AnomalyNoticeAdmin(admin.ModelAdmin):
    list_display = ("subscription", "anomaly", "status", "sent_at")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The log is a record of what was sent: read-only here too."""

    list_display = ("last_attempt_at", "channel", "kind", "subject", "status", "attempts")
    list_filter = ("channel", "kind", "status")
    search_fields = ("subject",)
    exclude = ("raw_message",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
