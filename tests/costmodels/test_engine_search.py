"""The engine's search on one service: the plan it picks, why it finds none, the export target's
admissibility predicate and progress (moved here from the former costmodels.optimiser tests:
plans come from the one engine)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costmodels import engine
from costmodels.capacity import CapacityModel
from costmodels.catalog import PriceCatalog
from costmodels.results import AutoscalingPolicy, PurchaseMix

SPACE = engine.SearchSpace(
    targets_pct=(60.0, 80.0),
    scale_down_windows_s=(300.0,),
    warm_pools=(0, 1),
    spot_shares=(0.0, 0.5, 1.0),
    min_replicas=(1,),
    spot_tolerance=1.0,
)


@pytest.fixture(scope="module")
def catalog():
    return PriceCatalog.load_default()


def _diurnal(days=1, base=1500.0, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(days * 1440)
    return np.maximum(
        base * (1 + 0.6 * np.sin(2 * np.pi * t / 1440)) + rng.normal(0, 50, t.size), 0
    )


def _images(offer, batch=4):
    cap = CapacityModel("image_generation", gpu_model=offer.gpu_model, batch_size=batch).fit()
    return [engine.Option(offer.instance_type, offer, cap)]


def _current(max_replicas=12, min_replicas=5):
    pol = AutoscalingPolicy(
        metric="gpu_utilisation", target=40.0, min_replicas=min_replicas, max_replicas=max_replicas
    )
    return engine.Config(0, pol, PurchaseMix())


def test_plan_is_cheaper_than_current_meets_slo_and_is_reproducible_by_simulation(catalog):
    offer = catalog.offer("aws", "g4dn.xlarge", "us-east-1")  # Spot Advisor bucket 3
    options, demand, cur = _images(offer), _diurnal(), _current()
    res = engine.search(demand, options, cur, 6000, space=SPACE, min_attainment=0.99)
    best = res.optimum
    assert best is not None and res.infeasible_reason is None
    assert best.slo_attainment >= 0.99
    assert best.monthly_cost_usd < res.current.monthly_cost_usd
    # bucket 3 caps spot at 25 % whatever the service tolerates
    assert best.config.mix.spot_share <= engine.max_spot_share(offer, 1.0) == 0.25
    # the priced plan, simulated in full with its commitment, costs what the search said
    again = engine.evaluate(demand, options, [best.config], 6000)[0]
    assert again.monthly_cost_usd == pytest.approx(best.monthly_cost_usd, rel=1e-9)
    # and its commitment level is the cheapest whole level, each simulated in full
    levels = [
        dataclasses.replace(
            best.config, mix=dataclasses.replace(best.config.mix, committed_replicas=k)
        )
        for k in range(0, best.config.policy.max_replicas + 1)
    ]
    costs = [e.monthly_cost_usd for e in engine.evaluate(demand, options, levels, 6000)]
    assert best.monthly_cost_usd == pytest.approx(min(costs), rel=1e-9)


def test_service_slower_than_its_slo_at_every_mix_is_infeasible_with_reason(catalog):
    offer = catalog.offer("aws", "g4dn.xlarge", "us-east-1")
    cap = CapacityModel("llm_chat", gpu_model=offer.gpu_model).fit()  # ~9.6 s per request on a T4
    options = [engine.Option(offer.instance_type, offer, cap)]
    res = engine.search(_diurnal(1, 50), options, _current(4, 1), 2000, space=SPACE)
    assert res.optimum is None
    assert "> SLO 2000 ms at every mix" in res.infeasible_reason


def test_capacity_bound_service_is_infeasible_with_reason(catalog):
    offer = catalog.offer("aws", "g5.xlarge", "us-east-1")
    res = engine.search(
        _diurnal(1, 3000), _images(offer), _current(2, 1), 600, space=SPACE, min_attainment=0.99
    )
    assert res.optimum is None
    assert "meets the 600 ms SLO in only" in res.infeasible_reason
    assert "raise max replicas" in res.infeasible_reason


def test_no_commitment_price_means_no_commitment(catalog):
    offer = dataclasses.replace(
        catalog.offer("aws", "g5.xlarge", "us-east-1"), commit_1y_usd_per_hour=None
    )
    res = engine.search(_diurnal(), _images(offer), _current(), 6000, space=SPACE)
    assert res.optimum is not None and res.optimum.config.mix.committed_replicas == 0


def test_an_offer_without_a_published_bucket_is_held_to_the_assumed_one(catalog):
    azure = catalog.offer("azure", "Standard_NC4as_T4_v3", "eastus")
    assert azure.spot_interruption_bucket is None
    assert engine.max_spot_share(azure, 1.0) == engine.MAX_SPOT_SHARE_BY_BUCKET[2] == 0.5


def test_the_admissible_predicate_keeps_refused_configurations_out(catalog):
    """What the export target refuses is never simulated nor proposed: here a target without
    warm pools that cannot hold a commitment beside spot (as Karpenter's capacity spread)."""
    offer = catalog.offer("aws", "g4dn.xlarge", "us-east-1")
    options, demand, cur = _images(offer), _diurnal(), _current()

    def admissible(option, config):
        mix = config.mix
        return config.policy.warm_pool == 0 and not (mix.committed_replicas and mix.spot_share)

    free = engine.search(demand, options, cur, 6000, space=SPACE)
    held = engine.search(demand, options, cur, 6000, space=SPACE, admissible=admissible)
    assert held.refused == len(engine.grid(options, cur, SPACE)) // 2  # warm pools 0 and 1
    assert held.evaluated + held.refused == free.evaluated
    assert admissible(options[0], held.optimum.config)
    assert held.optimum.monthly_cost_usd >= free.optimum.monthly_cost_usd - 1e-9
    nothing = engine.search(demand, options, cur, 6000, space=SPACE, admissible=lambda o, c: False)
    assert nothing.optimum is None and "can express none" in nothing.infeasible_reason


def test_progress_is_reported_monotonically_to_one(catalog):
    offer = catalog.offer("aws", "g5.xlarge", "us-east-1")
    seen: list[float] = []
    engine.search(_diurnal(), _images(offer), _current(), 6000, space=SPACE, progress=seen.append)
    assert seen and seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:], strict=False))
