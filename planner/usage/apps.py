from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "planner.usage"
    label = "usage"
    verbose_name = "Usage and inference-server metrics"
