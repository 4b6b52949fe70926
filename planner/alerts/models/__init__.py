"""Anomalies found in cost series, budgets with thresholds, and the record of every alert sent.

Every alert is claimed by inserting a row protected by a unique constraint *before* the email
goes out, so a crossing or an anomaly is announced once per recipient list even when the
evaluation runs twice or concurrently (the second INSERT fails and that worker sends nothing).
Money is USD (Decimal, cents); dates are UTC calendar days, ranges inclusive.
"""

from planner.alerts.models.anomalies import (
    Anomaly,
    AnomalyNotice,
    AnomalySignal,
    AnomalyStatus,
    AnomalySubscription,
    DigestMode,
    Direction,
)
from planner.alerts.models.budgets import (
    AlertKind,
    AlertSent,
    Budget,
    BudgetPeriod,
    BudgetScope,
    default_actual_thresholds,
    default_forecast_thresholds,
    period_bounds,
    validate_thresholds,
)
from planner.alerts.models.common import DeliveryStatus, parse_recipients, validate_recipients
from planner.alerts.models.notifications import (
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)

__all__ = [
    "AlertKind",
    "AlertSent",
    "Anomaly",
    "AnomalyNotice",
    "AnomalySignal",
    "AnomalyStatus",
    "AnomalySubscription",
    "Budget",
    "BudgetPeriod",
    "BudgetScope",
    "DeliveryStatus",
    "DigestMode",
    "Direction",
    "Notification",
    "NotificationChannel",
    "NotificationKind",
    "NotificationStatus",
    "default_actual_thresholds",
    "default_forecast_thresholds",
    "parse_recipients",
    "period_bounds",
    "validate_recipients",
    "validate_thresholds",
]
