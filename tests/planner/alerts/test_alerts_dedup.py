"""Deduplication of anomalies: the database refuses a second row for a series and episode,
detection racing itself stores one row, and a restatement that moves an episode by a day
updates the stored row instead of adding one."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction

from planner.alerts.detection import Episode, detect_cost_anomalies, store_episode
from planner.alerts.models import Anomaly
from planner.alerts.series import service_spec
from tests.planner.alerts.rollup_helpers import add_cost

FIRST = dt.date(2026, 8, 1)
SPIKE = dt.date(2026, 9, 5)


def seed_spiky_service(fleet, days: int = 45) -> float:
    """A service costing $500 ± 2 % a day, with $2,000 extra on SPIKE. Returns the spike day's cost."""
    rng = np.random.default_rng(11)
    spike_cost = 0.0
    for i in range(days):
        day = FIRST + dt.timedelta(days=i)
        usd = 500.0 * (1 + rng.normal(0, 0.02)) + (2000.0 if day == SPIKE else 0.0)
        add_cost(fleet["account"], day, usd, service=fleet["chat"])
        spike_cost = usd if day == SPIKE else spike_cost
    return spike_cost


@pytest.mark.django_db
def test_constraint_refuses_a_second_row_for_the_same_episode():
    fields = dict(
        series_key="cost:total",
        series_label="Total",
        start=SPIKE,
        end=SPIKE,
        actual_usd=1,
        expected_usd=0,
        impact_usd=1,
        score=0.9,
    )
    Anomaly.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Anomaly.objects.create(**{**fields, "status": "resolved"})


@pytest.mark.django_db
def test_detection_finds_the_spike_and_a_shifted_restatement_updates_it(fleet):
    spike_cost = seed_spiky_service(fleet)
    created = detect_cost_anomalies()
    chat = Anomaly.objects.get(series_key="cost:service=t-chat")
    assert chat.pk in created and (chat.start, chat.end) == (SPIKE, SPIKE)
    assert float(chat.actual_usd) == pytest.approx(spike_cost, abs=0.01)
    assert float(chat.impact_usd) == pytest.approx(2000.0, rel=0.05)
    assert chat.root_cause["primary"]["member"] == "g5.xlarge"
    # the same episode reported a day later (e.g. after a restatement) is matched by overlap
    spec = service_spec("t-chat", "T chat")
    moved = Episode(
        SPIKE + dt.timedelta(days=1), SPIKE + dt.timedelta(days=1), "up", 2600.0, 500.0, 0.8
    )
    anomaly, was_created = store_episode(spec, moved)
    assert (anomaly.pk, was_created) == (chat.pk, False)
    assert (anomaly.start, anomaly.end) == (SPIKE, SPIKE + dt.timedelta(days=1))
    assert Anomaly.objects.filter(series_key=spec.key).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_detections_store_each_episode_once(fleet):
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite's shared in-memory test database locks whole tables across threads; "
            "this race runs on PostgreSQL (set DATABASE_URL, as CI does)"
        )
    seed_spiky_service(fleet)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(detect_cost_anomalies())
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    stored = list(Anomaly.objects.values_list("series_key", "start"))
    assert len(stored) == len(set(stored)) >= 1
    assert sum(len(r) for r in results) == len(stored)  # each episode created by one thread
