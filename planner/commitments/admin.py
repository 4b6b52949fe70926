from django.contrib import admin

from planner.commitments.models import Commitment, ExpiryAlertRule, ExpiryNotice


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
    list_display = ["commitment_id", "name", "commitment_type", "provider", "period_end"]
    search_fields = ["commitment_id", "name", "contract_id"]
    list_filter = ["commitment_type", "provider"]


admin.site.register(ExpiryAlertRule)
admin.site.register(ExpiryNotice)
