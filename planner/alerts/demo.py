"""Demo budgets: three budgets on the demo fleet's own spend, one per story a newcomer should see.

- **on track** — all spend, monthly, set so the forecast ends at most at `ON_TRACK_FORECAST_PCT`
  and spend so far stays under the first alert threshold: no email;
- **forecast to exceed** — the service with the most spend this month, monthly, set so the
  forecast is about `FORECAST_OVER_PCT` (always between the spend so far and the forecast): its
  forecast threshold (100 %) sends an email;
- **already over** — the attribution tag with the most spend among the other services, over the
  period (month, quarter or year) most covered by data, set below the spend so far: its actual
  threshold (100 %) sends an email (and, its forecast being over too, the forecast one).

Amounts are derived from `budget_status` of the scope — the figures the budgets page shows — on
`today`, so they stay right when the demo fleet changes; the service and tag are chosen on the
cost the dashboard shows (planner/billing/reports.py: shared-node cost attributed). `seed_demo_anomaly_emails` adds two
anomaly subscriptions so an anomaly alert and a digest are on the notifications page too. The alerts are then sent by the real
evaluation (`budgets.evaluate_budget`): claims, emails, the notification log. Emails go to the
in-memory mail backend (`notify.kept_mail`): recipients are example.com addresses.
Idempotent: budgets are updated by name and evaluation claims each crossing once per period.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from planner.alerts import notify
from planner.alerts.budgets import budget_status, evaluate_budget
from planner.alerts.errors import DemoBudgetError
from planner.alerts.models import Budget, BudgetPeriod, BudgetScope, DigestMode, period_bounds
from planner.billing import reports
from planner.core.models import Service

DEMO_RECIPIENTS = "finops@example.com, ml-platform-leads@example.com"
ON_TRACK_FORECAST_PCT = 80.0  # the on-track budget's forecast, percent of its amount (at most)
ON_TRACK_SPEND_PCT = 45.0  # ... and its spend so far (below the first 50 % threshold)
FORECAST_OVER_PCT = 115.0  # the forecast-to-exceed budget's forecast (at least, when it can)
ALREADY_OVER_SPEND_PCT = 115.0  # the already-over budget's spend so far (about)
PERIODS_SHORTEST_FIRST = (BudgetPeriod.MONTHLY, BudgetPeriod.QUARTERLY, BudgetPeriod.YEARLY)


@dataclass(frozen=True)
class DemoBudgetResult:
    budget: Budget
    story: str
    alert_ids: list[int]


def _nice(amount: float, lo: float, hi: float) -> Decimal:
    """`amount` rounded to the coarsest of $1,000 / $100 / $10 / $1 / 1¢ that stays strictly
    inside (lo, hi); the bounds come from the story each budget must tell."""
    for step in (1000, 100, 10, 1, 0.01):
        rounded = round(amount / step) * step
        if lo < rounded < hi:
            return Decimal(f"{rounded:.2f}")
    return Decimal(f"{amount:.2f}")


def _top_service(start: dt.date, end: dt.date) -> Service:
    """The service with the most spend from `start` to `end` as the dashboard shows it (tagged
    cost plus its share of shared GPU nodes, planner/billing/reports.py); with no spend in that
    range yet, the one with the most over all history."""
    for costs in (reports.view(start, end).spend(), reports.view().spend()):
        by_service = {pk: v for pk, v in costs.by_service().items() if pk is not None and v > 0}
        if by_service:
            top = min(by_service, key=lambda pk: (-by_service[pk], pk))
            return Service.objects.get(pk=top)
    raise DemoBudgetError("no spend attributed to any service: load the demo fleet first")


def _over_scope(exclude_tag: str, today: dt.date) -> tuple[dict, str]:
    """(tag scope, period) for the already-over budget: of the periods containing `today`, the
    one whose days with data cover the largest share of it (so the budget is over because of
    the spend, not because a month has barely begun), and in it the tag with the most spend
    (a tag budget counts the rows carrying that tag, as the dashboard's tag filter does)."""
    best = None
    for period in PERIODS_SHORTEST_FIRST:
        start, end, _ = period_bounds(period, today)
        costs = reports.view(start, today).spend()
        tagged = reports.CostView(costs.rows.exclude(service_tag__in=("", exclude_tag)))
        days = len(tagged.by("date"))
        spend = [r for r in tagged.by("service_tag") if r["effective_cost"] > 0]
        top = min(spend, key=lambda r: (-r["effective_cost"], r["service_tag"]), default=None)
        share = days / ((end - start).days + 1)
        if top is not None and (best is None or share > best[0]):
            best = (share, top["service_tag"], period)
    if best is None:
        raise DemoBudgetError(f"no tagged spend in any budget period containing {today}")
    return {"scope": BudgetScope.TAG, "tag_value": best[1]}, best[2]


def _status(scope: dict, period: str, today: dt.date):
    return budget_status(Budget(**scope, period=period, amount_usd=Decimal(1)), today)


def _save(name: str, scope: dict, period: str, amount: Decimal) -> Budget:
    values = {
        "scope": BudgetScope.TOTAL,
        "service": None,
        "tag_value": "",
        "account": None,
        **scope,
        "period": period,
        "amount_usd": amount,
        "recipients": DEMO_RECIPIENTS,
        "active": True,
    }
    budget, _ = Budget.objects.update_or_create(name=name, defaults=values)
    return budget


def seed_demo_budgets(today: dt.date | None = None) -> list[DemoBudgetResult]:
    """Create or update the three demo budgets and evaluate them (alerts sent, emails logged)."""
    today = today or timezone.now().date()
    month_start, _, _ = period_bounds(BudgetPeriod.MONTHLY, today)
    monthly = BudgetPeriod.MONTHLY
    plans: list[tuple[str, dict, str, Decimal, str]] = []

    total = {"scope": BudgetScope.TOTAL}
    st = _status(total, monthly, today)
    if st.forecast_usd <= 0:
        raise DemoBudgetError(f"no spend to forecast on {today}: load the demo fleet first")
    floor = max(
        st.forecast_usd * 100 / ON_TRACK_FORECAST_PCT, st.spend_usd * 100 / ON_TRACK_SPEND_PCT
    )
    amount = Decimal(math.ceil(floor / 1000) * 1000)  # rounding up keeps it on track
    plans.append(("Fleet total (monthly)", total, monthly, amount, "on track"))

    service = _top_service(month_start, today)
    scope = {"scope": BudgetScope.SERVICE, "service": service}
    st = _status(scope, monthly, today)
    target = max(st.forecast_usd * 100 / FORECAST_OVER_PCT, (st.spend_usd + st.forecast_usd) / 2)
    amount = _nice(target, st.spend_usd, st.forecast_usd)
    plans.append((f"{service.name} (monthly)", scope, monthly, amount, "forecast to exceed"))

    tag_scope, period = _over_scope(service.tag_value or service.slug, today)
    st = _status(tag_scope, period, today)
    amount = _nice(st.spend_usd * 100 / ALREADY_OVER_SPEND_PCT, 0, st.spend_usd)
    name = f"Tag {tag_scope['tag_value']} ({BudgetPeriod(period).label.lower()})"
    plans.append((name, tag_scope, period, amount, "already over"))

    budgets = [
        (_save(name, scope, period, amount), story) for name, scope, period, amount, story in plans
    ]
    # A reseed on another day may pick another service, tag or period: earlier demo budgets go
    # (their notification log rows stay, unlinked). Budgets people made are never touched.
    Budget.objects.filter(recipients=DEMO_RECIPIENTS, created_by__isnull=True).exclude(
        pk__in=[b.pk for b, _ in budgets]
    ).delete()
    with notify.kept_mail():
        return [DemoBudgetResult(b, story, evaluate_budget(b.pk, today)) for b, story in budgets]


def summary(results: list[DemoBudgetResult]) -> str:
    """One line for the seed_demo output."""
    parts = [f"{r.budget.name} {r.story}" for r in results]
    emails = sum(len(r.alert_ids) for r in results)
    return f"budgets: {'; '.join(parts)}; {emails} new alert emails (see /notifications/)"


DEMO_SUBSCRIPTIONS = (
    # (name, recipients, mode, minimum |impact| in USD)
    ("FinOps on-call", "finops-oncall@example.com", DigestMode.IMMEDIATE, Decimal("1000")),
    ("ML platform daily digest", "ml-platform-leads@example.com", DigestMode.DAILY, Decimal("0")),
)


def seed_demo_anomaly_emails() -> int:
    """Two anomaly subscriptions (immediate, and a daily digest) told about the anomalies found in
    the demo spend, by the real notify path (claims, emails, notification log), so the
    notifications page also shows what an anomaly alert and a digest look like. Returns the
    number of emails sent (0 on a second run: each anomaly is announced once)."""
    from planner.alerts.models import Anomaly, AnomalySubscription

    for name, recipients, mode, min_impact in DEMO_SUBSCRIPTIONS:
        AnomalySubscription.objects.update_or_create(
            name=name,
            defaults={"recipients": recipients, "mode": mode, "min_impact_usd": min_impact},
        )
    ids = list(Anomaly.objects.values_list("pk", flat=True))
    with notify.kept_mail():
        sent = notify.notify_new_anomalies(ids)
        sent += notify.send_digests()
    return sent


def seed_demo_budgets_summary() -> str:
    """The demo's budgets and anomaly emails, as one line for the seed_demo output."""
    line = summary(seed_demo_budgets())
    return f"{line}; anomaly emails: {seed_demo_anomaly_emails()}"


def ensure_demo_budgets() -> str | None:
    """Seed the demo budgets on an instance whose demo fleet was loaded before they existed (a
    `make run` on an older database); None when there are budgets already."""
    if Budget.objects.exists():
        return None
    return seed_demo_budgets_summary()
