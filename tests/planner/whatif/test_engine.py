"""The bridge from the database to the simulator, checked against hand calculations and the
demo fleet's known configuration."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from costmodels.catalog import PriceCatalog
from planner.core import demo
from planner.core.models import Service
from planner.whatif import engine, services
from tests.factories import make_service


def test_demand_is_each_samples_rate_held_over_its_step_and_summed_over_deployments():
    t0 = pd.Timestamp("2026-09-01T00:00:00Z")
    frame = pd.DataFrame(
        {
            "dep": [1, 1, 2],
            "ts": [t0, t0 + pd.Timedelta(minutes=2), t0 + pd.Timedelta(minutes=1)],
            "step": [120, 120, 60],
            "rps": [1.0, 2.0, 0.5],
        }
    )
    # minute 0,1: 60 rpm from dep 1; minute 1 also 30 rpm from dep 2; minutes 2,3: 120 rpm
    assert engine._demand_per_minute(frame).tolist() == [60.0, 90.0, 120.0, 120.0]


@pytest.mark.django_db
@pytest.mark.parametrize("svc", demo.SERVICES, ids=lambda s: s.slug)
def test_current_mix_recovers_the_demo_fleets_commitments_from_the_bills(demo_fleet, svc):
    inputs = engine.load_inputs(Service.objects.get(slug=svc.slug), window_days=14)
    assert inputs.mix.committed_replicas == svc.committed_replicas
    if svc.spot_share in (0.0, 1.0):
        assert inputs.mix.spot_share == svc.spot_share
    else:  # inferred from the billed hours under the pool's rounding: the configured share
        assert inputs.mix.spot_share == pytest.approx(svc.spot_share, abs=0.05)


@pytest.mark.django_db
def test_committed_cost_is_replicas_times_commitment_price_times_730_hours(demo_fleet):
    svc = Service.objects.get(slug="speech-to-text")  # 4 committed replicas, never below
    result = services.simulate_service(svc, {"services": [svc.slug], "window_days": 3})
    offer = PriceCatalog.load_default().offer("azure", "Standard_NC4as_T4_v3", "eastus")
    expected = 4 * offer.commit_1y_usd_per_hour * 730
    assert result["baseline"]["monthly_cost_usd_by_category"]["committed"] == pytest.approx(
        expected, abs=0.02
    )
    # an unchanged scenario is the baseline, figure for figure
    assert result["scenario"] == result["baseline"]
    assert len(result["series"]["scenario"]["replicas"]) == len(result["demand_rpm"]) == 3 * 1440


@pytest.mark.django_db
def test_a_mig_slice_costs_its_compute_share_of_one_gpu(demo_fleet):
    inputs = engine.load_inputs(Service.objects.get(slug="video-understanding"), window_days=2)
    whole = inputs.offer  # Standard_NC24ads_A100_v4, one A100 80GB
    slice_ = engine.offer_for(inputs, mig_profile="3g.40gb")
    assert slice_.gpu_count == pytest.approx(3 / 7)
    assert slice_.ondemand_usd_per_hour == pytest.approx(whole.ondemand_usd_per_hour * 3 / 7)
    assert slice_.commit_1y_usd_per_hour == pytest.approx(whole.commit_1y_usd_per_hour * 3 / 7)
    with pytest.raises(
        engine.ScenarioInputError, match="not available on Standard_NC24ads_A100_v4"
    ):
        engine.offer_for(inputs, mig_profile="1g.5gb")


@pytest.mark.django_db
def test_bad_scenarios_say_which_service_and_what_to_change(demo_fleet):
    inputs = engine.load_inputs(Service.objects.get(slug="embeddings"), window_days=1)
    with pytest.raises(
        engine.ScenarioInputError, match=r"embeddings: no gcp offer for p5.48xlarge"
    ):
        engine.variant(inputs, {"instance_type": "p5.48xlarge"})
    with pytest.raises(engine.ScenarioInputError, match="min_replicas"):
        engine.variant(inputs, {"min_replicas": 9, "max_replicas": 3})
    empty = make_service(slug="new-svc", name="New", modality="embeddings", latency_slo_p95_ms=100)
    with pytest.raises(engine.ScenarioInputError, match="has no deployment"):
        engine.load_inputs(empty)


@pytest.mark.django_db
def test_more_batching_and_a_cache_cut_replicas_and_cost(demo_fleet):
    svc = Service.objects.get(slug="embeddings")
    r = services.simulate_service(
        svc, {"services": [svc.slug], "window_days": 2, "batch_size": 8, "cache_hit_rate": 0.3}
    )
    base, scn = r["baseline"], r["scenario"]
    assert scn["throughput_rps_per_replica"] > base["throughput_rps_per_replica"]
    assert scn["replica_minutes"] < base["replica_minutes"]
    assert scn["monthly_cost_usd"] <= base["monthly_cost_usd"]
    assert np.mean(r["series"]["scenario"]["replicas"]) <= np.mean(
        r["series"]["baseline"]["replicas"]
    )
    assert dt.datetime.fromisoformat(r["end"]) - dt.datetime.fromisoformat(
        r["start"]
    ) == dt.timedelta(days=2)


def test_what_if_prices_follow_the_connectors_refreshed_prices(settings, tmp_path):
    from planner.billing.pricing import save_price_updates
    from planner.whatif import engine

    settings.VAR_DIR = tmp_path
    seed = engine.catalog().offer("aws", "g5.2xlarge", "us-east-1")
    assert seed.spot_usd_per_hour == pytest.approx(0.5090)
    save_price_updates(
        [
            {
                "provider": "aws",
                "instance_type": "g5.2xlarge",
                "region": "us-east-1",
                "spot_usd_per_hour": 0.4321,
            }
        ],
        source="ec2-spot-price-history",
    )
    refreshed = engine.catalog().offer("aws", "g5.2xlarge", "us-east-1")
    assert refreshed.spot_usd_per_hour == pytest.approx(0.4321)
    assert refreshed.ondemand_usd_per_hour == seed.ondemand_usd_per_hour  # only what was refreshed
