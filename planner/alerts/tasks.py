"""Celery tasks for alerts: thin, take ids, safe to run twice (every send is claimed first).

after_ingest runs after each successful ingest (see signals.py): detect anomalies, announce
the new ones, then evaluate budgets. Beat runs evaluate_all_budgets daily (settings) and
send_anomaly_digests should run daily too.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from planner.alerts import budgets, detection, notification_log, notify, webhooks
from planner.alerts.models import (
    AnomalySubscription,
    Budget,
    DigestMode,
    NotificationKind,
    NotificationStatus,
)

log = logging.getLogger(__name__)
DB_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="planner.alerts.tasks.after_ingest", **DB_RETRY)
def after_ingest(run_id: int | None = None) -> dict:
    new_ids = detection.detect_cost_anomalies()
    emails = notify.notify_new_anomalies(new_ids)
    evaluate_all_budgets.delay()
    return {"run": run_id, "new_anomalies": len(new_ids), "anomaly_emails": emails}


@shared_task(name="planner.alerts.tasks.detect_anomalies", **DB_RETRY)
def detect_anomalies() -> dict:
    new_ids = detection.detect_cost_anomalies()
    return {"new_anomalies": len(new_ids), "anomaly_emails": notify.notify_new_anomalies(new_ids)}


@shared_task(name="planner.alerts.tasks.evaluate_budget", **DB_RETRY)
def evaluate_budget(budget_id: int) -> list[int]:
    return budgets.evaluate_budget(budget_id)


@shared_task(name="planner.alerts.tasks.evaluate_all_budgets")
def evaluate_all_budgets() -> int:
    """Fan out: one evaluate_budget task per active budget."""
    ids = list(Budget.objects.filter(active=True).values_list("pk", flat=True))
    for pk in ids:
        evaluate_budget.delay(pk)
    return len(ids)


@shared_task(name="planner.alerts.tasks.send_anomaly_digests", **DB_RETRY)
def send_anomaly_digests() -> int:
    return notify.send_digests()


@shared_task(
    bind=True,
    name="planner.alerts.tasks.post_webhook",
    autoretry_for=(webhooks.TransientWebhookError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def post_webhook(self, owner: str, owner_id: int, text: str) -> int | None:
    """POST to the webhook of a budget or anomaly subscription. The URL is looked up here, never
    passed as an argument, so it never appears in the broker or in task logs. Every attempt is
    written to the Notification log (one row per message: the task id is the key)."""
    model = {"budget": Budget, "subscription": AnomalySubscription}[owner]
    target = model.objects.filter(pk=owner_id).first()
    if target is None or not target.webhook_url:
        return None
    if owner == "budget":
        kind, links = NotificationKind.BUDGET, {"budget": target}
    else:
        digest = target.mode == DigestMode.DAILY
        kind = NotificationKind.DIGEST if digest else NotificationKind.ANOMALY
        links = {"subscription": target}

    def record(status: str, error: str = "") -> None:
        notification_log.record_webhook(
            kind=kind,
            key=f"webhook:{self.request.id}",
            target=webhooks.redact(target.webhook_url),
            text=text,
            status=status,
            error=error,
            links=links,
        )

    try:
        answer = webhooks.post(target.webhook_url, text)
    except webhooks.WebhookRejected as exc:
        log.warning("%s %s: %s", owner, owner_id, exc)
        record(NotificationStatus.REJECTED, str(exc))
        return None
    except webhooks.TransientWebhookError as exc:
        record(NotificationStatus.FAILED, str(exc))  # retried by autoretry_for
        raise
    record(NotificationStatus.SENT)
    return answer
