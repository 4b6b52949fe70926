from django.contrib import admin

from planner.billing.models import BillingPeriodLoad, IngestRun


@admin.register(IngestRun)
class IngestRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "account", "source", "status", "rows_read", "rows_stored", "created_at")
    list_filter = ("status", "source")


@admin.register(BillingPeriodLoad)
class BillingPeriodLoadAdmin(admin.ModelAdmin):
    list_display = (
        "account",
        "billing_period_start",
        "rows",
        "billed_cost",
        "effective_cost",
        "loaded_at",
    )
