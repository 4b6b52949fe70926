from django.contrib import admin

from planner.plans.models import ClusterToken, Plan, PlanDecision, PlanEvent


class PlanDecisionInline(admin.TabularInline):
    model = PlanDecision
    extra = 0
    fields = ("service", "cluster", "namespace", "min_replicas", "max_replicas", "spot_share")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "version",
        "name",
        "status",
        "expected_monthly_cost_usd",
        "approved_by",
        "applied_at",
    )
    list_filter = ("status",)
    inlines = [PlanDecisionInline]


@admin.register(PlanEvent)
class PlanEventAdmin(admin.ModelAdmin):
    list_display = ("plan", "kind", "user", "at", "summary")


@admin.register(ClusterToken)
class ClusterTokenAdmin(admin.ModelAdmin):
    list_display = ("cluster", "name", "token_prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("token_hash", "token_prefix")
