from django.apps import AppConfig


class CommitmentsConfig(AppConfig):
    name = "planner.commitments"
    label = "commitments"
    verbose_name = "Commitments inventory"

    def ready(self) -> None:
        from planner.commitments.signals import connect_receivers

        connect_receivers()
