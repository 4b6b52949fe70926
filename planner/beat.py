"""Celery beat's schedule: every periodic task of Headroom in one table (after Saleor's
``celeryconf``). ``settings.py`` passes the intervals it reads from the environment; this
module reads none itself (every environment variable is read in settings.py / env.py)."""

from __future__ import annotations

HOUR_S = 60 * 60.0
DAY_S = 24 * HOUR_S


def beat_schedule(*, requeue_interval_s: float, sweep_interval_s: float) -> dict[str, dict]:
    """``CELERY_BEAT_SCHEDULE``: task name and period (seconds) of each periodic job."""
    every = {
        "ingest-due-accounts": ("planner.billing.tasks.schedule_due_ingests", 15 * 60.0),
        # Usage metrics (Prometheus / DCGM / inference servers) over PROMETHEUS_LOOKBACK_MINUTES.
        "ingest-usage-metrics": ("planner.usage.tasks.schedule_usage_ingest", 15 * 60.0),
        # FOCUS runs whose message was lost (broker restarted) are re-sent; see billing.tasks.
        "requeue-stalled-focus-runs": (
            "planner.billing.tasks.requeue_stalled_focus_runs",
            requeue_interval_s,
        ),
        "anomaly-digests-daily": ("planner.alerts.tasks.send_anomaly_digests", DAY_S),
        "refresh-recommendations-daily": ("planner.whatif.tasks.refresh_recommendations", DAY_S),
        "evaluate-budgets-daily": ("planner.alerts.tasks.evaluate_all_budgets", DAY_S),
        "refresh-fx-rates-daily": ("planner.billing.tasks.refresh_fx_rates", DAY_S),
        "commitment-expiry-alerts-daily": (
            "planner.commitments.tasks.alert_expiring_commitments",
            DAY_S,
        ),
        # Weekly and monthly chargeback reports: each subscription's last complete period, once.
        "chargeback-reports-daily": ("planner.chargeback.tasks.send_scheduled_reports", DAY_S),
        # Uploads: loaded ones are deleted, failed ones kept UPLOAD_KEEP_FAILED_DAYS.
        "purge-uploads-hourly": ("planner.billing.tasks.purge_uploads", HOUR_S),
        # Line-item versions no pointer names (a killed load), older than LINE_ITEM_ORPHAN_AFTER_S.
        "sweep-line-item-orphans": (
            "planner.billing.tasks.sweep_line_item_orphans",
            sweep_interval_s,
        ),
        # Monthly partitions on PostgreSQL; drop months past ROLLUP_/USAGE_RETENTION_MONTHS.
        "maintain-rollup-partitions-daily": (
            "planner.billing.tasks.maintain_rollup_partitions",
            DAY_S,
        ),
        "maintain-usage-partitions-daily": (
            "planner.usage.tasks.maintain_usage_partitions",
            DAY_S,
        ),
    }
    return {name: {"task": task, "schedule": float(s)} for name, (task, s) in every.items()}
