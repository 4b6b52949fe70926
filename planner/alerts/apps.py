from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "planner.alerts"
    label = "alerts"
    verbose_name = "Anomalies, budgets and alerts"

    def ready(self) -> None:
        from planner.alerts.signals import connect_receivers

        connect_receivers()
