from django.contrib import admin

from planner.chargeback.models import (
    FixedShare,
    ReportDelivery,
    ReportSubscription,
    SharedCostPool,
    TagRule,
    Team,
)


class TagRuleInline(admin.TabularInline):
    model = TagRule
    extra = 0


class FixedShareInline(admin.TabularInline):
    model = FixedShare
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "cost_centre", "owner_email"]
    inlines = [TagRuleInline]


@admin.register(SharedCostPool)
class SharedCostPoolAdmin(admin.ModelAdmin):
    list_display = ["name", "match_field", "match_key", "match_value", "method", "priority"]
    inlines = [FixedShareInline]


admin.site.register(ReportSubscription)
admin.site.register(ReportDelivery)
