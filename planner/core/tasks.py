from celery import shared_task


@shared_task(name="planner.core.tasks.ping")
def ping(value: int) -> dict:
    """A round trip through the broker and a worker: returns what it was given, doubled, and the
    number of services the worker sees in the database."""
    from planner.core.models import Service

    return {"echo": value * 2, "services": Service.objects.count()}
