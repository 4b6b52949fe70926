"""Related signals form one episode: a service's cost spike and the usage spike behind it are
one Anomaly (one alert) with two signals.  The series are built here (noise, one injected
scale-out), not taken from the demo fleet the detector might be suspected of fitting."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from planner.alerts.detection import detect_cost_anomalies, usage_series
from planner.alerts.models import Anomaly, AnomalySignal
from tests.factories import make_deployment
from tests.planner.alerts.rollup_helpers import add_cost

pytestmark = pytest.mark.django_db
FIRST = dt.date(2026, 8, 1)
DAYS = 40
SPIKE_DAY = 32  # 16 hours at 8 replicas instead of 2: +96 GPU-hours and about +$60


@pytest.fixture
def scale_out(fleet):
    from planner.usage.models import UsageSample

    rng = np.random.default_rng(2026)
    image = fleet["image"]
    for d in range(DAYS):
        usd = 100 + rng.normal(0, 4) + (60 if d == SPIKE_DAY else 0)
        add_cost(fleet["account"], FIRST + dt.timedelta(days=d), usd, service=image)
    dep = make_deployment(
        image,
        fleet["account"],
        name="t-image-g5",
        instance_type="g5.2xlarge",
        throughput_rps_per_replica=4.0,
    )
    start = dt.datetime.combine(FIRST, dt.time(), tzinfo=dt.UTC)
    samples = []
    for h in range(DAYS * 24):
        replicas = 2.0 + rng.normal(0, 0.05)
        if h // 24 == SPIKE_DAY and 4 <= h % 24 < 20:
            replicas = 8.0
        samples.append(
            UsageSample(
                deployment=dep,
                ts=start + dt.timedelta(hours=h),
                step_seconds=3600,
                replicas=replicas,
                request_rate_rps=5.0 + rng.normal(0, 0.2),
            )
        )
    UsageSample.objects.bulk_create(samples)
    return fleet


def test_daily_gpu_hours_by_hand(scale_out):
    usage = usage_series("t-image", FIRST, FIRST + dt.timedelta(days=DAYS - 1))
    gpu = usage["gpu_hours"]
    # 8 hours at ~2 replicas + 16 hours at 8 replicas, one GPU each
    assert gpu.iloc[SPIKE_DAY] == pytest.approx(8 * 2 + 16 * 8, abs=0.5)
    assert gpu.iloc[0] == pytest.approx(48, abs=1.0)
    # requests: 5 req/s x 3600 s x 24 h
    assert usage["requests"].iloc[0] == pytest.approx(5 * 3600 * 24, rel=0.05)


def test_cost_spike_and_its_usage_spike_are_one_episode_with_two_signals(scale_out):
    created = detect_cost_anomalies()
    day = FIRST + dt.timedelta(days=SPIKE_DAY)
    found = Anomaly.objects.filter(series_key="cost:service=t-image", start__lte=day, end__gte=day)
    assert found.count() == 1 and found.get().pk in created  # one episode: one alert
    signals = {s.series_key: s for s in found.get().signals.all()}
    cost, gpu = signals["cost:service=t-image"], signals["usage:gpu_hours:service=t-image"]
    assert cost.flagged and gpu.flagged
    assert gpu.unit == "GPU-hours/day" and gpu.actual == pytest.approx(144, abs=1.0)
    assert gpu.actual > gpu.upper > gpu.expected and gpu.z > 10
    assert 50 < cost.actual - cost.expected < 75
    # nothing else flagged on this quiet service
    assert Anomaly.objects.filter(series_key="cost:service=t-image").count() == 1
    # running again adds nothing
    before = AnomalySignal.objects.count()
    assert detect_cost_anomalies() == []
    assert AnomalySignal.objects.count() == before
