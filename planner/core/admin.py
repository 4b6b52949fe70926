from django.contrib import admin

from planner.core.models import CloudAccount, Deployment, Service


@admin.register(CloudAccount)
class CloudAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "provider", "account_id", "source", "enabled", "last_ingest_at")
    list_filter = ("provider", "source", "enabled")


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "modality", "unit_of_work", "latency_slo_p95_ms")
    list_filter = ("modality",)


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "service",
        "provider",
        "region",
        "instance_type",
        "min_replicas",
        "max_replicas",
    )
    list_filter = ("provider", "region")
