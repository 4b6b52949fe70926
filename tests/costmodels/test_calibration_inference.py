"""Calibration inferences (costmodels.calibration) recover known settings."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.calibration import CostCalibration, infer_spot_share, infer_target_pct
from costmodels.capacity import CapacityModel
from costmodels.catalog import InstanceOffer
from costmodels.results import AutoscalingPolicy, PurchaseMix
from costmodels.simulator import simulate

OFFER = InstanceOffer(
    "aws", "g5.2xlarge", "us-east-1", "NVIDIA A10G", 1, 24.0, 1.2, 0.5, 0.78, None, 3
)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3), st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.75]), st.integers(0, 2**31 - 1))
def test_spot_share_is_recovered_from_billed_hours_under_the_pools_rounding(committed, share, seed):
    reps = np.random.default_rng(seed).integers(0, 15, 400).astype(float)
    over = np.maximum(reps - committed, 0)
    spot = np.floor(share * over + 0.5).sum()
    od = over.sum() - spot
    got = infer_spot_share(reps, committed, spot / 12.0, od / 12.0)  # 5-minute steps -> hours
    # any share giving the same billed split is as good: it must reproduce the bill's spot hours
    again = np.floor(got * over + 0.5).sum()
    assert again == pytest.approx(spot, abs=0.01 * over.sum() + 1)


def test_spot_share_edge_cases():
    assert infer_spot_share(np.ones(10), 0, 0.0, 5.0) == 0.0
    assert infer_spot_share(np.ones(10), 0, 5.0, 0.0) == 1.0


def test_autoscaler_target_is_recovered_from_the_replica_series():
    rng = np.random.default_rng(3)
    minutes = np.arange(3 * 1440)
    demand = (
        60 * 4.0 * (1.2 + np.sin(minutes / 1440 * 2 * np.pi)) * rng.lognormal(0, 0.05, minutes.size)
    )
    cap = CapacityModel("image_generation", gpu_model="NVIDIA A10G", service_time_ms=600.0).fit()
    template = AutoscalingPolicy(
        metric="gpu_utilisation", target=70.0, min_replicas=1, max_replicas=60
    )
    true = dataclasses.replace(template, target=56.0)
    r = simulate(demand, [true], PurchaseMix(), OFFER, cap, slo_p95_ms=5000.0, random_state=1)[0]
    target, mean = infer_target_pct(
        demand, float(np.mean(r.replicas)), template, OFFER, cap, 5000.0
    )
    assert target == pytest.approx(56.0, abs=2.0)
    assert mean == pytest.approx(float(np.mean(r.replicas)), rel=0.02)


def test_cost_calibration_figures_by_hand():
    c = CostCalibration("svc", 13, (), 1000.0, 1015.0, 200.0, 0.97, 0.955)
    assert c.cost_error_pct == pytest.approx(1.5)
    assert c.residual_monthly_usd == pytest.approx(-15.0)
    assert c.slo_gap == pytest.approx(0.015)
    assert c.calibrated(2.0, 0.02) and not c.calibrated(1.0, 0.02) and not c.calibrated(2.0, 0.01)
