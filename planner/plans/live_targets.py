"""The plan's current target for one service at a given instant (no Django).

Served to KEDA's ``metrics-api`` scaler by ``GET /api/keda/targets/<slug>``.
A schedule window is *active* when its start cron fired more recently than
its end cron — the same rule KEDA's cron scaler uses — evaluated in the
window's IANA timezone (DST-safe: each UTC minute is converted to local
wall-clock time before matching). ``target_replicas`` is the plan's floor
(min + warm pool) raised to the largest active window, capped at max.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from planner.plans.errors import CronError

from .exports.decision import PlanDecision, PrometheusMetric, ScheduleWindow

LOOKBACK_MINUTES = 8 * 24 * 60  # a weekly cron fires at least once in 8 days
_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def _field(expr: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in expr.split(","):
        body, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if body == "*":
            a, b = lo, hi
        elif "-" in body:
            a_s, b_s = body.split("-", 1)
            a, b = int(a_s), int(b_s)
        else:
            a = int(body)
            b = hi if step_s else a
        if not (lo <= a <= hi and lo <= b <= hi and step >= 1):
            raise CronError(f"{part!r} is outside {lo}-{hi}")
        values.update(range(a, b + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed 5-field cron expression (minute hour day-of-month month day-of-week)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday (7 also accepted)
    dom_any: bool
    dow_any: bool

    @classmethod
    def parse(cls, expr: str) -> Cron:
        parts = expr.split()
        if len(parts) != 5:
            raise CronError(f"cron {expr!r} needs 5 fields")
        try:
            sets = [_field(p, lo, hi) for p, (lo, hi) in zip(parts, _RANGES, strict=True)]
        except ValueError as exc:
            raise CronError(f"cron {expr!r}: {exc}") from None
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] == "*", parts[4] == "*")

    def matches(self, local: dt.datetime) -> bool:
        if local.minute not in self.minutes or local.hour not in self.hours:
            return False
        if local.month not in self.months:
            return False
        dom = local.day in self.days
        dow = (local.isoweekday() % 7) in self.weekdays
        if self.dom_any or self.dow_any:  # standard cron: both restricted -> either matches
            return dom and dow
        return dom or dow


def last_fire(cron: Cron, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The latest minute <= ``now`` (aware) at which ``cron`` fires in ``tz``."""
    t = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    try:
        for _ in range(LOOKBACK_MINUTES):
            if cron.matches(t.astimezone(tz)):
                return t
            t -= dt.timedelta(minutes=1)
    except OverflowError:  # walked back past year 1: no earlier firing exists
        pass
    return None


def window_active(window: ScheduleWindow, now: dt.datetime) -> bool:
    tz = ZoneInfo(window.timezone)
    start = last_fire(Cron.parse(window.start_cron), now, tz)
    if start is None:
        return False
    end = last_fire(Cron.parse(window.end_cron), now, tz)
    return end is None or start > end


@dataclass(frozen=True)
class LiveTarget:
    service_slug: str
    target_replicas: int
    min_replicas: int
    max_replicas: int
    active_schedules: tuple[str, ...]

    def as_json(self, decision: PlanDecision, extra: dict[str, Any]) -> dict[str, Any]:
        m = decision.metric
        metric = (
            {"source": "prometheus", "query": m.query, "threshold": m.threshold}
            if isinstance(m, PrometheusMetric)
            else {
                "source": m.kind,
                "queue": m.queue_name,
                "target_length_per_replica": m.target_length_per_replica,
            }
        )
        return {
            "service": self.service_slug,
            **extra,
            "target_replicas": self.target_replicas,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "active_schedules": list(self.active_schedules),
            "metric": metric,
            "schedules": [
                {
                    "name": w.name,
                    "timezone": w.timezone,
                    "start": w.start_cron,
                    "end": w.end_cron,
                    "desired_replicas": w.desired_replicas,
                }
                for w in decision.schedules
            ],
        }


def target_at(decision: PlanDecision, now: dt.datetime) -> LiveTarget:
    """The floor KEDA should hold for ``decision`` at the aware instant ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    floor = decision.effective_min_replicas
    active = [w for w in decision.schedules if window_active(w, now)]
    target = max([floor, *(w.desired_replicas for w in active)])
    return LiveTarget(
        decision.service_slug,
        min(target, decision.max_replicas),
        floor,
        decision.max_replicas,
        tuple(w.name for w in active),
    )
