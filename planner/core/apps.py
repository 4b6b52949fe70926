from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "planner.core"
    label = "core"
    verbose_name = "Headroom fleet"

    def ready(self) -> None:
        from planner.core.credentials import install_log_scrubbing
        from planner.core.roles import ensure_role_groups

        install_log_scrubbing()

        post_migrate.connect(ensure_role_groups, dispatch_uid="headroom-role-groups")
