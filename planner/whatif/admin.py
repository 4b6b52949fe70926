from django.contrib import admin

from planner.whatif.models import Recommendation, Scenario


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    list_display = ("service", "kind", "monthly_savings_usd", "confidence", "slo_risk", "status")
    list_filter = ("kind", "status", "slo_risk")


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "progress", "saved", "created_by", "created_at")
    list_filter = ("status", "saved")
