"""Capacity and latency model against hand calculations and exact queueing results."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from costmodels.capacity import (
    MODALITIES,
    CapacityModel,
    erlang_c,
    gpu_speed_factor,
    wait_probability,
)


def test_batched_throughput_by_hand():
    m = CapacityModel("image_generation", gpu_model="NVIDIA A100", batch_size=8).fit()
    # t(8) = 60 ms * (1 + 0.3 * 7) = 186 ms for 8 images
    assert m.batch_time_ms_ == pytest.approx(186.0)
    assert m.throughput_rps_ == pytest.approx(8000 / 186)


def test_batching_raises_throughput_and_batch_latency():
    b1 = CapacityModel("image_generation", batch_size=1).fit()
    b8 = CapacityModel("image_generation", batch_size=8).fit()
    assert b8.throughput_rps_ / b1.throughput_rps_ == pytest.approx(
        8 / 3.1
    )  # ~2.6x, 30 %->75 % GPU use
    one, lam = np.array([1]), np.array([10.0])
    assert b8.service_latency_ms(lam, one)[0] > b1.service_latency_ms(lam, one)[0]


def test_quantisation_and_gpu_speed():
    fp16 = CapacityModel("llm_chat", gpu_model="NVIDIA H100").fit()
    int8 = CapacityModel("llm_chat", gpu_model="NVIDIA H100", quantisation="int8").fit()
    assert fp16.service_time_ms_ == pytest.approx(2400 / 2.0)
    assert int8.service_time_ms_ == pytest.approx(2400 / 2.0 / 1.5)
    assert int8.memory_required_gib_ == pytest.approx(fp16.memory_required_gib_ / 2)
    assert gpu_speed_factor("NVIDIA T4 Tensor Core") == 0.25
    with pytest.raises(ValueError, match="unknown GPU model"):
        gpu_speed_factor("Voodoo 5")


def test_cold_start_by_hand():
    m = CapacityModel("image_generation").fit()  # A100 node: 180 s + 1.2 * 7 GiB / 0.5 GiB/s
    assert m.cold_start_s_ == pytest.approx(180 + 8.4 / 0.5)
    assert m.warm_start_s_ == 30


def test_erlang_c_exact_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # textbook: c = 10, a = 8 Erlang -> P(wait) = 0.409
    assert erlang_c(10, 8.0) == pytest.approx(0.409, abs=1e-3)


@pytest.mark.parametrize("c", [1, 2, 4, 8, 16, 32])
def test_sakasegawa_close_to_erlang_c(c):
    for rho in (0.5, 0.7, 0.85, 0.95):
        approx = wait_probability(np.array([c]), np.array([rho]))[0]
        assert approx == pytest.approx(erlang_c(c, rho * c), abs=0.08)


def test_mm1_wait_quantile_is_exact():
    # c = 1, exponential service (cv = 1): P(W > t) = rho * exp(-(mu - lambda) t) exactly
    m = CapacityModel("embeddings", batch_size=1, service_time_cv=1.0).fit()
    mu = m.throughput_rps_
    lam = 0.8 * mu
    wait_ms = (
        m.p95_latency_ms(np.array([lam]), np.array([1]))[0]
        - m.service_latency_ms(np.array([lam]), np.array([1]))[0]
    )
    assert wait_ms == pytest.approx(1000 * math.log(0.8 / 0.05) / (mu - lam))


def test_latency_monotone_and_saturates():
    m = CapacityModel("speech_to_text", batch_size=4).fit()
    reps = np.arange(1, 20)
    lam = np.full(reps.shape, 0.9 * m.throughput_rps_)
    lat = m.p95_latency_ms(lam, reps)
    assert np.all(np.diff(lat) <= 1e-9)
    loads = np.linspace(0.1, 0.99, 30) * 4 * m.throughput_rps_
    by_load = m.p95_latency_ms(loads, np.full(loads.shape, 4))
    assert np.all(np.diff(by_load) >= -1e-9)
    assert np.isinf(m.p95_latency_ms(np.array([5 * m.throughput_rps_]), np.array([4]))[0])
    assert m.replicas_for_slo(3 * m.throughput_rps_, slo_p95_ms=5000) >= 4


def test_fit_recovers_service_time_from_samples():
    true = CapacityModel("embeddings", gpu_model="NVIDIA L4", batch_size=8).fit()
    rng = np.random.default_rng(0)
    rate = rng.uniform(20, 200, 2000)
    reps = rng.integers(1, 4, 2000)
    util = 100 * rate / reps / true.throughput_rps_ * rng.normal(1, 0.02, 2000)
    df = pd.DataFrame({"request_rate_rps": rate, "gpu_util_pct": util, "replicas": reps})
    fitted = CapacityModel("embeddings", gpu_model="NVIDIA L4", batch_size=8).fit(df)
    assert fitted.fitted_from_samples_ and fitted.n_samples_ == 2000
    assert fitted.throughput_rps_ == pytest.approx(true.throughput_rps_, rel=0.02)


def test_fit_errors_say_where():
    df = pd.DataFrame({"request_rate_rps": [1.0, -2.0] * 10, "gpu_util_pct": [10.0] * 20})
    with pytest.raises(ValueError, match=r"row 1, column 'request_rate_rps'"):
        CapacityModel().fit(df)
    with pytest.raises(ValueError, match="missing column 'gpu_util_pct'"):
        CapacityModel().fit(df[["request_rate_rps"]])
    with pytest.raises(ValueError, match="modality"):
        CapacityModel("podcasts").fit()


def test_every_modality_has_documented_defaults():
    assert set(MODALITIES) == {
        "llm_chat",
        "embeddings",
        "image_generation",
        "speech_to_text",
        "text_to_speech",
        "video",
        "batch",
    }
    for mod in MODALITIES:
        m = CapacityModel(mod).fit()
        assert m.throughput_rps_ > 0 and m.cold_start_s_ > 120


def test_cache_hits_never_reach_the_gpu():
    m = CapacityModel("embeddings", cache_hit_rate=0.4).fit()
    assert m.gpu_arrival_rps(100.0) == pytest.approx(60.0)


def test_cold_start_depends_on_gpu_type_and_model_size():
    t4 = CapacityModel("llm_chat", gpu_model="NVIDIA T4").fit()
    h100 = CapacityModel("llm_chat", gpu_model="NVIDIA H100").fit()
    h100_int4 = CapacityModel("llm_chat", gpu_model="NVIDIA H100", quantisation="int4").fit()
    assert t4.cold_start_s_ == pytest.approx(120 + 1.2 * 16 / 0.5)
    assert h100.cold_start_s_ == pytest.approx(240 + 1.2 * 16 / 0.5)
    assert h100_int4.cold_start_s_ == pytest.approx(240 + 1.2 * 16 * 0.25 / 0.5)


def _simulated_wait_p95_ms(lam, c, mean_s, cv, n=20000, seed=0):
    """Independent check: an event-by-event FCFS c-server queue (Kiefer-Wolfowitz)."""
    import heapq

    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    service = np.full(n, mean_s) if cv == 0 else rng.exponential(mean_s, n)
    free = [0.0] * c
    wait = np.empty(n)
    for i in range(n):
        start = max(heapq.heappop(free), arrivals[i])
        wait[i] = start - arrivals[i]
        heapq.heappush(free, start + service[i])
    return 1000 * np.percentile(wait[n // 10 :], 95)


@pytest.mark.parametrize("cv", [0.0, 1.0])  # M/D/c and M/M/c
@pytest.mark.parametrize(("c", "rho"), [(1, 0.8), (2, 0.9), (4, 0.6), (4, 0.9), (8, 0.8)])
def test_p95_wait_matches_a_queue_simulation(cv, c, rho):
    m = CapacityModel("embeddings", batch_size=1, service_time_cv=cv).fit()
    lam = rho * c * m.throughput_rps_
    one = (np.array([lam]), np.array([c]))
    model_wait = m.p95_latency_ms(*one)[0] - m.service_latency_ms(*one)[0]
    assert model_wait == pytest.approx(
        _simulated_wait_p95_ms(lam, c, 1 / m.throughput_rps_, cv), rel=0.2, abs=1.0
    )
