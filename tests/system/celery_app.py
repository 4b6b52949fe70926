"""The planner Celery app for test subprocesses: identical, except that a killed worker's
unacknowledged messages are looked for every second (kombu's Redis default is every ~100 s, after
the visibility timeout — two hours in production settings, CELERY_VISIBILITY_TIMEOUT)."""

from planner.celery import app

app.conf.broker_transport_options = {
    **(app.conf.broker_transport_options or {}),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
