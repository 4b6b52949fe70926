"""Right-sizing from usage percentiles: refusal below 30 hours, lookback, savings by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodels.capacity import CapacityModel
from costmodels.catalog import PriceCatalog
from costmodels.rightsizing import RightsizingRefused, recommend_rightsizing


@pytest.fixture(scope="module")
def catalog():
    return PriceCatalog.load_default()


def _samples(offer, minutes, *, replicas=2, mem_gib=3.0, base_rps=30.0, seed=0, batch=8):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2026-11-01", periods=minutes, freq="min", tz="UTC")
    rate = np.maximum(
        base_rps * (1 + 0.6 * np.sin(np.arange(minutes) / 1440 * 2 * np.pi))
        + rng.normal(0, 2, minutes),
        0.5,
    )
    true = CapacityModel("embeddings", gpu_model=offer.gpu_model, batch_size=batch).fit()
    util = np.clip(
        100 * rate / replicas / true.throughput_rps_ * rng.normal(1, 0.02, minutes), 0, 100
    )
    return pd.DataFrame(
        {
            "request_rate_rps": rate,
            "gpu_util_pct": util,
            "gpu_memory_used_gib": np.full(minutes, mem_gib),
            "replicas": np.full(minutes, replicas),
        },
        index=idx,
    )


def test_refuses_below_30_hours(catalog):
    cur = catalog.offer("gcp", "a2-highgpu-1g", "us-central1")
    cap = CapacityModel("embeddings", batch_size=8)
    short = recommend_rightsizing(
        _samples(cur, 29 * 60 + 59),
        current_offer=cur,
        capacity=cap,
        catalog=catalog,
        slo_p95_ms=150,
    )
    assert short.refused
    assert (
        short.reason
        == "only 29.98 hours of usage samples in the 14-day lookback; right-sizing needs at least 30 hours"
    )
    assert short.recommended_instance_type is None and short.monthly_savings_usd == 0
    enough = recommend_rightsizing(
        _samples(cur, 30 * 60), current_offer=cur, capacity=cap, catalog=catalog, slo_p95_ms=150
    )
    assert not enough.refused
    with pytest.raises(RightsizingRefused, match="only 29.98 hours"):
        recommend_rightsizing(
            _samples(cur, 1799),
            current_offer=cur,
            capacity=cap,
            catalog=catalog,
            slo_p95_ms=150,
            raise_on_refusal=True,
        )


def test_over_provisioned_a100_moves_to_a_cheaper_fit_with_savings_by_hand(catalog):
    cur = catalog.offer("gcp", "a2-highgpu-1g", "us-central1")
    df = _samples(cur, 30 * 1440)  # 30 days; the default lookback keeps the last 14
    rec = recommend_rightsizing(
        df,
        current_offer=cur,
        capacity=CapacityModel("embeddings", batch_size=8),
        catalog=catalog,
        slo_p95_ms=150,
    )
    assert rec.evidence_hours == pytest.approx(14 * 24)
    assert rec.evidence_window[1] == df.index[-1].isoformat()
    assert rec.current_monthly_cost_usd == pytest.approx(
        2 * cur.ondemand_usd_per_hour * 730, abs=0.01
    )
    assert rec.recommended_monthly_cost_usd < rec.current_monthly_cost_usd
    assert rec.monthly_savings_usd == pytest.approx(
        rec.current_monthly_cost_usd - rec.recommended_monthly_cost_usd, abs=0.02
    )
    chosen = catalog.offer("gcp", rec.recommended_instance_type, "us-central1")
    mem = next(
        (m.memory_gib for m in chosen.mig_profiles if m.name == rec.recommended_mig_profile),
        chosen.gpu_memory_gib,
    )
    assert mem >= 3.0 * 1.2  # p95 memory plus 20 % headroom
    assert 1 <= rec.min_replicas <= rec.max_replicas
    assert rec.percentiles["gpu_memory_used_gib_p95"] == 3.0 and 0 < rec.confidence <= 1


def test_memory_need_rules_out_small_slices(catalog):
    cur = catalog.offer("gcp", "a2-highgpu-1g", "us-central1")
    rec = recommend_rightsizing(
        _samples(cur, 3 * 1440, mem_gib=30.0),
        current_offer=cur,
        capacity=CapacityModel("embeddings", batch_size=8),
        catalog=catalog,
        slo_p95_ms=150,
    )
    chosen = catalog.offer("gcp", rec.recommended_instance_type, "us-central1")
    mem = next(
        (m.memory_gib for m in chosen.mig_profiles if m.name == rec.recommended_mig_profile),
        chosen.gpu_memory_gib,
    )
    assert mem >= 36.0


def test_nothing_fits_is_a_refusal_with_reason(catalog):
    cur = catalog.offer("aws", "g4dn.xlarge", "us-east-1")
    rec = recommend_rightsizing(
        _samples(cur, 2 * 1440, mem_gib=2000.0),
        current_offer=cur,
        capacity=CapacityModel("embeddings", batch_size=8),
        catalog=catalog,
        slo_p95_ms=150,
    )
    assert rec.refused and "fits" in rec.reason


def test_bad_samples_say_where(catalog):
    cur = catalog.offer("aws", "g4dn.xlarge", "us-east-1")
    df = _samples(cur, 100)
    df.iloc[7, df.columns.get_loc("gpu_memory_used_gib")] = -1
    with pytest.raises(ValueError, match=r"row 7 .*'gpu_memory_used_gib'"):
        recommend_rightsizing(
            df, current_offer=cur, capacity=CapacityModel(), catalog=catalog, slo_p95_ms=100
        )
    with pytest.raises(ValueError, match="missing column"):
        recommend_rightsizing(
            df.drop(columns="gpu_util_pct"),
            current_offer=cur,
            capacity=CapacityModel(),
            catalog=catalog,
            slo_p95_ms=100,
        )


def test_observed_latency_above_slo_lowers_confidence(catalog):
    cur = catalog.offer("gcp", "a2-highgpu-1g", "us-central1")
    df = _samples(cur, 3 * 1440)
    cap = CapacityModel("embeddings", batch_size=8)
    calm = recommend_rightsizing(
        df.assign(p95_latency_ms=40.0),
        current_offer=cur,
        capacity=cap,
        catalog=catalog,
        slo_p95_ms=150,
    )
    hot = recommend_rightsizing(
        df.assign(p95_latency_ms=400.0),
        current_offer=cur,
        capacity=cap,
        catalog=catalog,
        slo_p95_ms=150,
    )
    assert hot.confidence == pytest.approx(calm.confidence * 0.8, abs=0.011)
    assert "already exceeds the SLO" in hot.reason and "exceeds" not in calm.reason
    assert calm.percentiles["p95_latency_ms_p95"] == 40.0
