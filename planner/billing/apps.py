from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "planner.billing"
    label = "billing"
    verbose_name = "Billing and usage"
