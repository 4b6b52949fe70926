"""Budget evaluation: spend so far and forecast at period end against thresholds.

Spend is effective cost (USD, credits excluded, like the anomaly series) of the budget's scope
from the first day of the period to the last day with data (at most today, UTC). The forecast at
period end is that spend plus `costmodels.forecast.forecast_series` summed over the remaining
days, fitted on up to `FORECAST_HISTORY_DAYS` days of the scope's daily cost; with fewer than
`MIN_FORECAST_DAYS` days of history it is the mean daily spend so far times the remaining days
("run rate", labelled as such).

Each threshold crossing is claimed by inserting an AlertSent row (unique per budget, period,
threshold and kind) before anything is sent, so concurrent or repeated evaluations send one
email per crossing. When several thresholds of one kind are crossed at once (e.g. a big
restatement takes spend from 30 % to 85 %), one email announces the highest and the lower ones
are recorded as superseded.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from costmodels.errors import SeriesInputError
from planner.alerts.models import AlertKind, AlertSent, Budget, DeliveryStatus, period_bounds
from planner.alerts.series import daily_frame
from planner.billing.reports import CostView
from planner.core.sqlite_writes import sqlite_serialised

log = logging.getLogger(__name__)
FORECAST_HISTORY_DAYS = 120
MIN_FORECAST_DAYS = 14
TOP_N = 5


@dataclass(frozen=True)
class BudgetStatus:
    """Where a budget stands on `as_of` (last day with data in the period)."""

    budget_id: int
    period_key: str
    period_start: dt.date
    period_end: dt.date
    as_of: dt.date | None
    amount_usd: float
    spend_usd: float
    forecast_usd: float
    forecast_lower_usd: float
    forecast_upper_usd: float
    forecast_method: str
    top_services: list = field(default_factory=list)
    top_skus: list = field(default_factory=list)

    @property
    def spend_pct(self) -> float:
        return 100.0 * self.spend_usd / self.amount_usd

    @property
    def forecast_pct(self) -> float:
        return 100.0 * self.forecast_usd / self.amount_usd

    @property
    def remaining_days(self) -> int:
        last = self.as_of or (self.period_start - dt.timedelta(days=1))
        return (self.period_end - last).days


def _forecast_rest(budget: Budget, as_of: dt.date, remaining: int, spend: float, days_so_far: int):
    """(forecast, lower_80, upper_80, method) of the spend still to come in the period."""
    if remaining <= 0:
        return 0.0, 0.0, 0.0, "period complete"
    costs = budget.costs()
    window = costs.between(as_of - dt.timedelta(days=FORECAST_HISTORY_DAYS - 1), as_of)
    first_day = min(window.daily().get(None, {}), default=None)  # first day the scope has cost
    history = None
    if first_day is not None and (as_of - first_day).days + 1 >= MIN_FORECAST_DAYS:
        history = daily_frame(costs, None, first_day, as_of)
    if history is not None and not history.empty:
        from costmodels.forecast import forecast_with_backtest

        try:
            fc, backtest = forecast_with_backtest(history["total"], remaining)
            fc = fc.clip(lower=0.0)
            return (
                float(fc["forecast"].sum()),
                float(fc["lower_80"].sum()),
                float(fc["upper_80"].sum()),
                backtest.text(),
            )
        except (SeriesInputError, ValueError) as exc:  # bad series, or a degenerate fit
            log.warning("budget %s: forecast failed (%s); using run rate", budget.pk, exc)
    rate = spend / max(days_so_far, 1)
    return rate * remaining, rate * remaining, rate * remaining, "run rate"


def _top(costs: CostView, dimension: str) -> list[tuple[str, float]]:
    rows = costs.by(dimension)[:TOP_N]
    return [(r[dimension] or "unallocated", float(r["effective_cost"])) for r in rows]


def budget_status(budget: Budget, today: dt.date | None = None) -> BudgetStatus:
    today = today or timezone.now().date()
    start, end, key = period_bounds(budget.period, today)
    costs = budget.costs().between(start, min(today, end))
    days = costs.daily().get(None, {})  # the scope's cost per day it has any
    spend = float(sum(days.values()))
    as_of = max(days, default=None)
    days_so_far = (as_of - start).days + 1 if as_of else 0
    last = as_of or start - dt.timedelta(days=1)
    rest, lo, hi, method = _forecast_rest(budget, last, (end - last).days, spend, days_so_far)
    return BudgetStatus(
        budget_id=budget.pk,
        period_key=key,
        period_start=start,
        period_end=end,
        as_of=as_of,
        amount_usd=float(budget.amount_usd),
        spend_usd=spend,
        forecast_usd=spend + rest,
        forecast_lower_usd=spend + lo,
        forecast_upper_usd=spend + hi,
        forecast_method=method,
        top_services=_top(costs, "service__name"),
        top_skus=_top(costs, "sku"),
    )


def _claim(budget: Budget, status: BudgetStatus, threshold: int, kind: str) -> AlertSent | None:
    """Insert the crossing's AlertSent row; None when it already exists (someone else sends)."""
    try:
        with transaction.atomic():
            return AlertSent.objects.create(
                budget=budget,
                period_key=status.period_key,
                threshold=threshold,
                kind=kind,
                spend_usd=Decimal(f"{status.spend_usd:.2f}"),
                forecast_usd=Decimal(f"{status.forecast_usd:.2f}"),
            )
    except IntegrityError:
        return None


def _reclaim_failed(budget: Budget, period_key: str) -> list[AlertSent]:
    """Failed sends of this period, taken back by exactly one evaluation (conditional update)."""
    out = []
    for alert in AlertSent.objects.filter(
        budget=budget, period_key=period_key, status=DeliveryStatus.FAILED
    ):
        if AlertSent.objects.filter(pk=alert.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.CLAIMED
        ):
            out.append(alert)
    return out


@sqlite_serialised("budget evaluation")
def evaluate_budget(budget_id: int, today: dt.date | None = None) -> list[int]:
    """Evaluate one budget; send what crossed. Returns ids of the AlertSent rows emailed.

    Safe to run twice or concurrently: each crossing is claimed by a unique row before sending.
    On SQLite concurrent evaluations take turns and a briefly locked database is retried
    (`planner.core.sqlite_writes`).
    """
    from planner.alerts import notify

    budget = Budget.objects.select_related("account", "service").get(pk=budget_id)
    if not budget.active:
        return []
    status = budget_status(budget, today)
    to_send = _reclaim_failed(budget, status.period_key)
    for kind, thresholds, pct in (
        (AlertKind.ACTUAL, budget.actual_thresholds, status.spend_pct),
        (AlertKind.FORECAST, budget.forecast_thresholds, status.forecast_pct),
    ):
        crossed = sorted({int(t) for t in thresholds or [] if pct >= t})
        claimed = [a for a in (_claim(budget, status, t, kind) for t in crossed) if a is not None]
        if not claimed:
            continue
        top = max(claimed, key=lambda a: a.threshold)
        AlertSent.objects.filter(pk__in=[a.pk for a in claimed if a.pk != top.pk]).update(
            status=DeliveryStatus.SUPERSEDED
        )
        to_send.append(top)
    sent = []
    for alert in to_send:
        if notify.send_budget_alert(alert, budget, status):
            sent.append(alert.pk)
    return sent


def evaluate_all(today: dt.date | None = None) -> dict[int, list[int]]:
    """Evaluate every active budget in this process (the Celery task fans out instead)."""
    return {
        pk: evaluate_budget(pk, today)
        for pk in Budget.objects.filter(active=True).values_list("pk", flat=True)
    }
