"""Commitment rule against brute force, and the service optimiser's plans."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.capacity import CapacityModel
from costmodels.catalog import PriceCatalog
from costmodels.optimiser import (
    ServiceSpec,
    commitment_cost,
    max_spot_share,
    optimal_commitment_level,
    optimise_fleet,
    optimise_service,
)
from costmodels.simulator import AutoscalingPolicy, PurchaseMix, simulate

usage = st.lists(st.integers(0, 12), min_size=1, max_size=60).map(lambda xs: np.array(xs, float))


def _brute(d, c, p):
    levels = np.unique(np.concatenate([[0.0], d]))
    return min(commitment_cost(d, x, c, p) for x in levels)


@settings(max_examples=200, deadline=None)
@given(d=usage, ratio=st.floats(0.01, 1.5), o=st.floats(0.1, 10))
def test_quantile_rule_matches_brute_force(d, ratio, o):
    c = ratio * o
    level = optimal_commitment_level(d, c, o)
    assert commitment_cost(d, level, c, o) == pytest.approx(_brute(d, c, o), rel=1e-9, abs=1e-9)
    if ratio < 1:  # the level is the demand quantile at 1 - c/o
        share_above = np.mean(d > level)
        assert share_above <= c / o + 1e-9 and np.mean(d >= level) >= c / o - 1e-9


@settings(max_examples=200, deadline=None)
@given(data=st.data(), c=st.floats(0.05, 3))
def test_exact_method_with_varying_overflow_prices_matches_brute_force(data, c):
    d = data.draw(usage)
    p = np.array(data.draw(st.lists(st.floats(0.1, 4), min_size=d.size, max_size=d.size)))
    level = optimal_commitment_level(d, c, 1.0, method="exact", overflow_price=p)
    assert commitment_cost(d, level, c, p) == pytest.approx(_brute(d, c, p), rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    d=st.lists(st.floats(0, 20), min_size=1, max_size=40).map(np.array), ratio=st.floats(0.05, 0.95)
)
def test_integer_commitment_is_best_whole_number(d, ratio):
    level = optimal_commitment_level(d, ratio, 1.0, method="exact", integer=True)
    assert level == int(level)
    best = min(commitment_cost(d, k, ratio, 1.0) for k in range(0, 22))
    assert commitment_cost(d, level, ratio, 1.0) == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_commitment_by_hand():
    d = np.array([1, 2, 2, 3, 5], float)  # c/o = 0.6: commit to units used > 60 % of the time
    assert optimal_commitment_level(d, 0.6, 1.0) == 2
    assert optimal_commitment_level(d, 0.3, 1.0) == 3  # 3rd unit used in 2 of 5 periods > 30 %
    assert optimal_commitment_level(d, 1.0, 1.0) == 0
    assert optimal_commitment_level(d, 0.0, 1.0) == 5
    with pytest.raises(ValueError, match=r"usage\[1\]"):
        optimal_commitment_level([1, -1], 0.5, 1.0)
    with pytest.raises(ValueError, match="exact"):
        optimal_commitment_level(d, 0.5, 1.0, overflow_price=np.ones(5))


@pytest.fixture(scope="module")
def catalog():
    return PriceCatalog.load_default()


def _diurnal(days=3, base=1500.0, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(days * 1440)
    return np.maximum(
        base * (1 + 0.6 * np.sin(2 * np.pi * t / 1440)) + rng.normal(0, 50, t.size), 0
    )


def test_plan_is_cheaper_than_current_meets_slo_and_is_reproducible_by_simulation(catalog):
    offer = catalog.offer("aws", "g5.xlarge", "us-east-1")
    cap = CapacityModel("image_generation", gpu_model=offer.gpu_model, batch_size=4).fit()
    demand = _diurnal()
    current = AutoscalingPolicy(target=8, min_replicas=5, max_replicas=12)
    plan = optimise_service(
        "images",
        demand,
        cap,
        offer,
        slo_p95_ms=600,
        current_policy=current,
        current_mix=PurchaseMix(),
    )
    assert plan.feasible and plan.infeasible_reason is None
    assert plan.slo_attainment >= 0.99
    assert plan.monthly_cost_usd < plan.current_monthly_cost_usd
    assert plan.monthly_savings_usd == pytest.approx(
        plan.current_monthly_cost_usd - plan.monthly_cost_usd, abs=0.02
    )
    assert sum(plan.monthly_cost_usd_by_category.values()) == pytest.approx(
        plan.monthly_cost_usd, abs=0.05
    )
    assert plan.mix.spot_share <= max_spot_share(offer) == 0.25  # bucket 4 caps spot at 25 %
    assert plan.evidence_minutes == demand.size and "SLO met" in plan.risk
    assert json.loads(json.dumps(plan.to_dict()))["mix"]["spot_share"] == plan.mix.spot_share
    again = simulate(demand, [plan.policy], plan.mix, offer, cap, slo_p95_ms=600, random_state=0)[0]
    assert again.monthly_cost_usd == pytest.approx(plan.monthly_cost_usd, abs=0.01)
    # the committed level is the exact optimum for the plan's replica series
    first = simulate(
        demand, [plan.policy], PurchaseMix(), offer, cap, slo_p95_ms=600, random_state=0
    )[0]
    blend = (
        1 - plan.mix.spot_share
    ) * offer.ondemand_usd_per_hour + plan.mix.spot_share * offer.spot_usd_per_hour
    want = optimal_commitment_level(
        first.running_replicas_usage(),
        offer.commit_1y_usd_per_hour,
        offer.ondemand_usd_per_hour,
        method="exact",
        overflow_price=np.full(demand.size, blend),
        integer=True,
    )
    assert plan.mix.committed_replicas == want


def test_service_slower_than_its_slo_at_every_mix_is_infeasible_with_reason(catalog):
    offer = catalog.offer("aws", "g4dn.xlarge", "us-east-1")
    cap = CapacityModel("llm_chat", gpu_model=offer.gpu_model).fit()  # ~9.6 s per request on a T4
    plan = optimise_service("chat", _diurnal(1, 50), cap, offer, slo_p95_ms=2000)
    assert not plan.feasible and plan.policy is None and plan.mix is None
    assert "> SLO 2000 ms at every mix" in plan.infeasible_reason


def test_capacity_bound_service_is_infeasible_with_reason(catalog):
    offer = catalog.offer("aws", "g5.xlarge", "us-east-1")
    cap = CapacityModel("image_generation", gpu_model=offer.gpu_model, batch_size=4).fit()
    tiny = [AutoscalingPolicy(target=cap.throughput_rps_ * 0.8, min_replicas=1, max_replicas=2)]
    plan = optimise_service(
        "images", _diurnal(1, 3000), cap, offer, slo_p95_ms=600, policy_grid=tiny
    )
    assert not plan.feasible
    assert (
        "meets the 600 ms SLO in only" in plan.infeasible_reason
        and "raise max replicas" in plan.infeasible_reason
    )


def test_fleet_batch_equals_one_by_one_and_keeps_dates(catalog):
    a = catalog.offer("gcp", "g2-standard-4", "us-central1")
    b = catalog.offer("azure", "Standard_NC4as_T4_v3", "eastus")
    idx = pd.date_range("2026-10-01", periods=2 * 1440, freq="min", tz="UTC")
    specs = [
        ServiceSpec(
            "embed",
            pd.Series(_diurnal(2, 3000), index=idx),
            CapacityModel("embeddings", gpu_model=a.gpu_model, batch_size=16).fit(),
            a,
            150,
        ),
        ServiceSpec(
            "tts",
            _diurnal(2, 400, seed=2),
            CapacityModel("text_to_speech", gpu_model=b.gpu_model, batch_size=4).fit(),
            b,
            2500,
        ),
    ]
    together = optimise_fleet(specs)
    alone = [optimise_fleet([s])[0] for s in specs]
    assert together == alone
    assert together[0].evidence_window == ("2026-10-01T00:00:00+00:00", "2026-10-02T23:59:00+00:00")
    assert all(p.feasible for p in together)
    assert together[1].mix.spot_share <= 0.75  # Azure: no bucket published, assumed 10-15 %


def test_no_commitment_price_means_no_commitment(catalog):
    offer = dataclasses.replace(
        catalog.offer("aws", "g5.xlarge", "us-east-1"), commit_1y_usd_per_hour=None
    )
    cap = CapacityModel("image_generation", gpu_model=offer.gpu_model, batch_size=4).fit()
    plan = optimise_service("images", _diurnal(1), cap, offer, slo_p95_ms=600)
    assert plan.feasible and plan.mix.committed_replicas == 0


def test_progress_is_reported_monotonically_to_one(catalog):
    offer = catalog.offer("aws", "g5.xlarge", "us-east-1")
    cap = CapacityModel("image_generation", gpu_model=offer.gpu_model, batch_size=4).fit()
    seen: list[float] = []
    optimise_fleet([ServiceSpec("images", _diurnal(2), cap, offer, 600)], progress=seen.append)
    assert seen and seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:], strict=False))
