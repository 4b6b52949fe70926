"""Live targets: cron windows evaluated in their timezone, checked against hand-worked instants."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from planner.plans.exports.decision import ScheduleWindow
from planner.plans.live_targets import Cron, CronError, last_fire, target_at, window_active

UTC = dt.UTC


def at(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


@pytest.mark.parametrize(
    ("when", "replicas", "active"),
    [
        # 2026-11-23 is a Monday; New York is UTC-5 (EST) in November.
        ("2026-11-23T13:00:00+00:00", 8, ("weekday-peak",)),  # 08:00 EST: start minute
        ("2026-11-23T12:59:00+00:00", 2, ()),  # 07:59 EST: floor = min 2
        ("2026-11-24T00:59:00+00:00", 8, ("weekday-peak",)),  # 19:59 EST Monday
        ("2026-11-24T01:00:00+00:00", 2, ()),  # 20:00 EST: end minute
        ("2026-11-28T15:00:00+00:00", 2, ()),  # Saturday
        ("2026-07-06T12:30:00+00:00", 8, ("weekday-peak",)),  # July: EDT (UTC-4) -> 08:30
    ],
)
def test_weekday_window_in_new_york(known_plan, when, replicas, active):
    live = target_at(known_plan[0], at(when))
    assert (live.target_replicas, live.active_schedules) == (replicas, active)
    assert (live.min_replicas, live.max_replicas) == (2, 12)  # the warm pool is not replicas


def test_overnight_window_and_cap_at_max(known_plan):
    chat = known_plan[0]
    night = ScheduleWindow("batch", "Europe/Berlin", "0 22 * * *", "0 6 * * *", 50)
    d = chat.__class__(**{**chat.__dict__, "schedules": (night,), "max_replicas": 60})
    # 23:30 UTC on 2026-11-23 = 00:30 Berlin (UTC+1): window started 22:00 Berlin
    assert target_at(d, at("2026-11-23T23:30:00+00:00")).target_replicas == 50
    assert target_at(d, at("2026-11-24T05:30:00+00:00")).target_replicas == 2  # 06:30 Berlin
    capped = d.__class__(**{**d.__dict__, "max_replicas": 60, "min_replicas": 2})
    assert target_at(capped, at("2026-11-23T21:00:00+00:00")).target_replicas == 50


def test_overlapping_windows_take_the_largest(known_plan):
    chat = known_plan[0]
    a = ScheduleWindow("a", "UTC", "0 9 * * *", "0 17 * * *", 5)
    b = ScheduleWindow("b", "UTC", "0 12 * * *", "0 13 * * *", 9)
    d = chat.__class__(**{**chat.__dict__, "schedules": (a, b)})
    live = target_at(d, at("2026-11-23T12:30:00+00:00"))
    assert live.target_replicas == 9 and live.active_schedules == ("a", "b")


def test_cron_parsing_and_last_fire():
    c = Cron.parse("*/15 8-10 * * 1-5")
    assert c.minutes == {0, 15, 30, 45} and c.hours == {8, 9, 10} and c.weekdays == {1, 2, 3, 4, 5}
    assert Cron.parse("0 0 * * 7").weekdays == {0}
    tz = ZoneInfo("UTC")
    assert last_fire(c, at("2026-11-23T09:44:59+00:00"), tz) == at("2026-11-23T09:30:00+00:00")
    # Monday 07:00 -> last fire was Friday 10:45
    assert last_fire(c, at("2026-11-23T07:00:00+00:00"), tz) == at("2026-11-20T10:45:00+00:00")
    # day-of-month and weekday both restricted: either matches (standard cron)
    both = Cron.parse("0 0 1 * 1")
    assert both.matches(at("2026-11-23T00:00:00+00:00")) and both.matches(
        at("2026-12-01T00:00:00+00:00")
    )
    for bad in ("0 8 * *", "61 * * * *", "0 8 * * 9", "x * * * *"):
        with pytest.raises(CronError):
            Cron.parse(bad)


def test_window_without_recent_start_is_inactive():
    w = ScheduleWindow("new-year", "UTC", "0 0 1 1 *", "0 6 1 1 *", 10)
    assert not window_active(w, at("2026-11-23T12:00:00+00:00"))


def test_naive_time_rejected(known_plan):
    with pytest.raises(ValueError, match="timezone-aware"):
        target_at(known_plan[0], dt.datetime(2026, 11, 23, 12))


def test_start_of_calendar_does_not_crash(known_plan):
    # found by hypothesis: walking back from 0001-01-01 must not overflow
    live = target_at(known_plan[0], dt.datetime(1, 1, 1, tzinfo=UTC))
    assert live.target_replicas == 2 and live.active_schedules == ()
