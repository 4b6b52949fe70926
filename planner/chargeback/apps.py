from django.apps import AppConfig


class ChargebackConfig(AppConfig):
    name = "planner.chargeback"
    label = "chargeback"
    verbose_name = "Showback and chargeback"
