"""Anomaly detection on the demo fleet: the three injected anomalies are found, stored once,
and explained by the right service / SKU."""

from __future__ import annotations

import datetime as dt

import pytest

from planner.alerts import rootcause
from planner.alerts.detection import detect_cost_anomalies
from planner.alerts.models import Anomaly
from planner.alerts.series import TOTAL

pytestmark = pytest.mark.django_db


def _series_key(injected) -> str:
    return f"cost:service={injected.service or 'unallocated'}"


def _covering(injected):
    day = injected.start.date()
    return Anomaly.objects.filter(series_key=_series_key(injected), start__lte=day, end__gte=day)


@pytest.fixture
def detected(demo_fleet):
    ids = detect_cost_anomalies()
    return demo_fleet, ids


def test_injected_anomalies_are_found_once_each(detected):
    injected, ids = detected
    assert len(ids) == Anomaly.objects.count() > 0
    for a in injected:
        found = list(_covering(a))
        assert len(found) == 1, f"{a.kind}: expected one anomaly on {_series_key(a)}, got {found}"
        anomaly = found[0]
        assert anomaly.direction == "up"
        assert anomaly.actual_usd > anomaly.expected_usd
        assert 0 < anomaly.score <= 1
    # the untagged p4d ran 54 hours from midnight: the episode covers at least its two full days
    stray = next(a for a in injected if a.kind == "untagged-gpu-instance")
    episode = _covering(stray).get()
    assert episode.start == stray.start.date()
    assert episode.end >= stray.start.date() + dt.timedelta(days=1)


def test_running_detection_twice_creates_no_duplicates(detected):
    before = list(
        Anomaly.objects.order_by("pk").values_list("series_key", "start", "end", "impact_usd")
    )
    assert detect_cost_anomalies() == []
    after = list(
        Anomaly.objects.order_by("pk").values_list("series_key", "start", "end", "impact_usd")
    )
    assert after == before


def test_impact_matches_the_injected_cost(detected):
    """The egress spike multiplies one $55±3/day line twenty-fold for a day: about +$1,045."""
    injected, _ = detected
    egress = next(a for a in injected if a.kind == "egress-spike")
    anomaly = _covering(egress).get()
    assert anomaly.start == egress.start.date()
    assert 800 < float(anomaly.impact_usd) < 1300


@pytest.mark.parametrize(
    ("kind", "sku"),
    [
        ("runaway-scale-out", "g5.2xlarge"),
        ("untagged-gpu-instance", "p4d.24xlarge"),
        ("egress-spike", "DataTransfer-Out-Bytes"),
    ],
)
def test_root_cause_ranks_the_right_sku_first(detected, kind, sku):
    injected, _ = detected
    anomaly = _covering(next(a for a in injected if a.kind == kind)).get()
    cause = anomaly.root_cause
    skus = [r for r in cause["ranking"] if r["dimension"] == "sku"]
    assert skus[0]["member"] == sku
    assert cause["primary"] == skus[0]
    assert skus[0]["delta_usd"] > 0.5 * float(anomaly.impact_usd)


def test_root_cause_of_total_spend_names_the_service(detected):
    """On total spend, the egress-spike day is explained by chat-assistant among services and
    by the egress SKU overall (ranked independently of whether the total series alarmed)."""
    injected, _ = detected
    day = next(a for a in injected if a.kind == "egress-spike").start.date()
    cause = rootcause.explain(TOTAL, day, day)
    services = [r for r in cause["ranking"] if r["dimension"] == "service"]
    assert services[0]["member"] == "chat-assistant"
    assert services[0]["share_of_deviation"] > 0.7
    assert cause["primary"]["member"] == "DataTransfer-Out-Bytes"
    assert cause["baseline"] == [str(day - dt.timedelta(days=14)), str(day - dt.timedelta(days=1))]
    stored = Anomaly.objects.filter(series_key="cost:total", start__lte=day, end__gte=day).first()
    if stored is not None:  # when the total alarmed too, it stored the same explanation
        assert stored.root_cause["primary"] == cause["primary"]


def _row(dimension, member, delta):
    return {"dimension": dimension, "member": member, "delta_usd": delta}


def test_primary_cause_is_the_most_specific_member_explaining_most_of_the_deviation():
    dims = list(rootcause.DIMENSIONS)
    rows = [
        _row("account", "prod", 1000.0),
        _row("region", "us-east-1", 1000.0),
        _row("service", "chat", 900.0),
        _row("sku", "p4d.24xlarge", 810.0),
        _row("sku", "g5", 190.0),
    ]
    assert (
        rootcause.primary(rows, dims)["member"] == "p4d.24xlarge"
    )  # 81 % of the top: specific wins
    rows[3]["delta_usd"] = 790.0  # below 80 % of the top: the service is the answer
    assert rootcause.primary(rows, dims)["member"] == "chat"
    drops = [_row("account", "prod", -500.0), _row("sku", "a", -450.0), _row("sku", "b", 30.0)]
    assert rootcause.primary(drops, dims)["member"] == "a"  # follows the direction of the deviation
    assert rootcause.primary([], dims) is None


def test_root_cause_of_an_episode_with_no_cost_rows_says_so(demo_fleet):
    """An episode on days the scope has no rows (e.g. a single-period file ending before it) gets
    a note, not the ranker's ValueError escaping the post-ingest alerts hook."""
    from planner.billing.models import CostRollup

    last = CostRollup.objects.order_by("-date").values_list("date", flat=True).first()
    day = last + dt.timedelta(days=3)
    cause = rootcause.explain(TOTAL, day, day)
    assert cause == {"note": "no cost rows inside the episode; root cause not ranked"}
