"""Capacity and latency model of one service on one GPU type.

Units: rates in requests per second (rps), times in milliseconds unless named ``_s``.
A *replica* is one serving copy of the model on ``gpu_count`` GPUs of ``gpu_model``
(data-parallel copies on a multi-GPU instance count as one replica with ``gpu_count``
times the throughput; a MIG slice or fractional VM has ``gpu_count`` < 1).

Model (documented assumptions):

* **Batching.** A batch of ``b`` requests takes ``t(b) = t1 * (1 + e * (b - 1))`` where
  ``t1`` is the single-request service time on this GPU and ``e`` in (0, 1] the batch cost
  factor (1 = no gain). Throughput per replica is ``b / t(b)``. Under light load batches
  are partial: the effective batch is the number of requests that arrive in one batch
  window, clipped to [1, b]; a request waits up to ``max_batch_wait_ms`` for its batch.
* **Quantisation.** INT8/FP8/INT4 divide ``t1`` by :data:`QUANT_SPEEDUP` and scale model
  memory by :data:`QUANT_MEMORY`.
* **Queueing.** Each replica is a server with rate ``mu``; p95 waiting time uses the M/G/c
  approximation of Sakasegawa (P(wait) for M/M/c) scaled by Allen-Cunneen's (1 + cs^2) / 2
  and an exponential conditional wait. :func:`erlang_c` is the exact M/M/c probability.
* **Cold start** = node provisioning (per GPU type, :data:`NODE_PROVISION_S`) + model load
  at ``load_gib_per_s`` (model size after quantisation); a warm-pool replica starts in
  ``warm_start_s`` (model image and weights already on the node).
* **Caching.** A share ``cache_hit_rate`` of requests is answered from cache and never
  reaches a GPU; latency figures are for the cache misses (conservative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

QUANT_SPEEDUP = {"fp16": 1.0, "bf16": 1.0, "fp8": 1.6, "int8": 1.5, "int4": 1.8}
QUANT_MEMORY = {"fp16": 1.0, "bf16": 1.0, "fp8": 0.5, "int8": 0.5, "int4": 0.25}

#: Inference speed of one GPU relative to an A100 (first substring match wins).
GPU_SPEED = (
    ("GB200", 3.5),
    ("B300", 4.0),
    ("B200", 3.5),
    ("H200", 2.3),
    ("H100", 2.0),
    ("MI300X", 1.8),
    ("RTX PRO 6000", 1.3),
    ("GB202", 1.3),
    ("L40S", 0.9),
    ("A100", 1.0),
    ("RTX PRO 4500", 0.7),
    ("L4", 0.5),
    ("A10", 0.45),
    ("V100", 0.4),
    ("V710", 0.4),
    ("V620", 0.35),
    ("T4", 0.25),
    ("V520", 0.2),
)


#: Seconds to get a GPU node ready to pull the model (instance launch, driver, image pull):
#: large multi-GPU training-class nodes take longer. First substring match wins; else 120 s.
NODE_PROVISION_S = (
    ("GB200", 300.0),
    ("B300", 300.0),
    ("B200", 300.0),
    ("H200", 240.0),
    ("H100", 240.0),
    ("MI300X", 240.0),
    ("A100", 180.0),
)


def node_provision_for(gpu_model: str) -> float:
    """Default node provisioning time (s) for ``gpu_model``, see :data:`NODE_PROVISION_S`."""
    m = gpu_model.upper()
    return next((sec for token, sec in NODE_PROVISION_S if token in m), 120.0)


def gpu_speed_factor(gpu_model: str) -> float:
    """Relative inference speed of ``gpu_model`` (A100 = 1.0); unknown GPUs raise."""
    m = gpu_model.upper()
    for token, factor in GPU_SPEED:
        if token in m:
            return factor
    raise ValueError(f"unknown GPU model {gpu_model!r}: add it to costmodels.capacity.GPU_SPEED")


@dataclass(frozen=True)
class ModalityDefaults:
    """Documented defaults per modality, on an A100 at FP16 (``service_time_ms`` = t1)."""

    unit_of_work: str
    service_time_ms: float
    batch_cost_factor: float
    max_batch_wait_ms: float
    service_time_cv: float
    model_size_gib: float
    slo_p95_ms: float


MODALITY_DEFAULTS: dict[str, ModalityDefaults] = {
    "llm_chat": ModalityDefaults("request (~300 output tokens)", 2400, 0.12, 50, 0.8, 16, 8000),
    "embeddings": ModalityDefaults("request (~500 tokens)", 12, 0.08, 5, 0.3, 1.5, 150),
    "image_generation": ModalityDefaults("image (512px, few-step)", 60, 0.3, 10, 0.15, 7, 250),
    "speech_to_text": ModalityDefaults("30 s audio chunk", 250, 0.2, 20, 0.5, 3, 2000),
    "text_to_speech": ModalityDefaults("sentence", 150, 0.25, 10, 0.4, 2, 1000),
    "video": ModalityDefaults("2 s clip", 6000, 0.6, 100, 0.3, 20, 60000),
    "batch": ModalityDefaults("item", 500, 0.1, 200, 0.5, 10, 600000),
}
MODALITIES = tuple(MODALITY_DEFAULTS)


def erlang_c(servers: int, offered_load: float) -> float:
    """Exact M/M/c probability that an arrival waits (Erlang C); ``offered_load`` = lambda/mu."""
    if offered_load >= servers:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):  # Erlang B recursion, numerically stable
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / servers
    return b / (1.0 - rho + rho * b)


def wait_probability(servers: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Sakasegawa's closed-form P(wait) for M/M/c, vectorised: rho^(sqrt(2(c+1)) - 1)."""
    c = np.maximum(servers, 1.0)
    return np.clip(rho, 0.0, 1.0) ** (np.sqrt(2.0 * (c + 1.0)) - 1.0)


class CapacityModel(BaseEstimator):
    """Throughput and p95 latency per replica of a service on a GPU type.

    Parameters left ``None`` take the modality's :data:`MODALITY_DEFAULTS`. ``fit(samples)``
    learns the per-request GPU time from usage samples (columns ``request_rate_rps``,
    ``gpu_util_pct`` and optionally ``replicas``); ``fit()`` without samples keeps
    the documented defaults. Learned attributes: ``service_time_ms_`` (t1 on this GPU),
    ``throughput_rps_`` (per replica at ``batch_size``), ``cold_start_s_``,
    ``warm_start_s_``, ``memory_required_gib_``, ``fitted_from_samples_``.

    >>> m = CapacityModel("image_generation", gpu_model="NVIDIA A100", batch_size=8).fit()
    >>> round(m.throughput_rps_, 1)
    43.0
    """

    def __init__(
        self,
        modality: str = "llm_chat",
        *,
        gpu_model: str = "NVIDIA A100",
        gpu_count: float = 1.0,
        batch_size: int = 1,
        quantisation: str = "fp16",
        cache_hit_rate: float = 0.0,
        service_time_ms: float | None = None,
        batch_cost_factor: float | None = None,
        max_batch_wait_ms: float | None = None,
        service_time_cv: float | None = None,
        model_size_gib: float | None = None,
        node_provision_s: float | None = None,
        load_gib_per_s: float = 0.5,
        warm_start_s: float = 30.0,
    ):
        self.modality = modality
        self.gpu_model = gpu_model
        self.gpu_count = gpu_count
        self.batch_size = batch_size
        self.quantisation = quantisation
        self.cache_hit_rate = cache_hit_rate
        self.service_time_ms = service_time_ms
        self.batch_cost_factor = batch_cost_factor
        self.max_batch_wait_ms = max_batch_wait_ms
        self.service_time_cv = service_time_cv
        self.model_size_gib = model_size_gib
        self.node_provision_s = node_provision_s
        self.load_gib_per_s = load_gib_per_s
        self.warm_start_s = warm_start_s

    # -- fitting ---------------------------------------------------------------------------
    def _validate(self) -> ModalityDefaults:
        if self.modality not in MODALITY_DEFAULTS:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.quantisation not in QUANT_SPEEDUP:
            raise ValueError(f"quantisation must be one of {tuple(QUANT_SPEEDUP)}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if not 0.0 <= self.cache_hit_rate < 1.0:
            raise ValueError(f"cache_hit_rate must be in [0, 1), got {self.cache_hit_rate!r}")
        if not self.gpu_count > 0:
            raise ValueError(f"gpu_count must be > 0, got {self.gpu_count!r}")
        return MODALITY_DEFAULTS[self.modality]

    def fit(self, samples: pd.DataFrame | None = None, y: object = None) -> CapacityModel:
        d = self._validate()
        self.batch_cost_factor_ = (
            d.batch_cost_factor if self.batch_cost_factor is None else self.batch_cost_factor
        )
        if not 0.0 < self.batch_cost_factor_ <= 1.0:
            raise ValueError("batch_cost_factor must be in (0, 1]")
        self.max_batch_wait_ms_ = (
            d.max_batch_wait_ms if self.max_batch_wait_ms is None else self.max_batch_wait_ms
        )
        self.service_time_cv_ = (
            d.service_time_cv if self.service_time_cv is None else self.service_time_cv
        )
        size = d.model_size_gib if self.model_size_gib is None else self.model_size_gib
        self.memory_required_gib_ = 1.2 * size * QUANT_MEMORY[self.quantisation]
        provision = (
            node_provision_for(self.gpu_model)
            if self.node_provision_s is None
            else self.node_provision_s
        )
        self.cold_start_s_ = provision + self.memory_required_gib_ / self.load_gib_per_s
        self.warm_start_s_ = float(self.warm_start_s)
        b = int(self.batch_size)
        batch_time_units = 1.0 + self.batch_cost_factor_ * (b - 1)
        if samples is not None and len(samples):
            per_request_s = self._fit_seconds_per_request(samples)
            # per_request_s = t(b)/b/gpu_count at the configured batch size
            self.service_time_ms_ = 1000.0 * per_request_s * b * self.gpu_count / batch_time_units
            self.fitted_from_samples_ = True
            self.n_samples_ = len(samples)
        else:
            t1 = d.service_time_ms if self.service_time_ms is None else self.service_time_ms
            speed = gpu_speed_factor(self.gpu_model) * QUANT_SPEEDUP[self.quantisation]
            self.service_time_ms_ = t1 / speed
            self.fitted_from_samples_ = False
            self.n_samples_ = 0
        self.batch_time_ms_ = self.service_time_ms_ * batch_time_units
        self.throughput_rps_ = self.gpu_count * b * 1000.0 / self.batch_time_ms_
        return self

    @staticmethod
    def _fit_seconds_per_request(samples: pd.DataFrame) -> float:
        """Least squares through the origin of busy fraction on per-replica request rate,
        over the steady steps: a step whose mean replica count is not whole had replicas
        starting or stopping in it (GPUs that existed for part of it, a backlog built during
        a cold start and drained after), so its rate per mean replica says nothing about the
        time per request -- after a scale from zero it is many times the rate the GPUs served.
        All steps are used when fewer than 10 are steady."""
        for col in ("request_rate_rps", "gpu_util_pct"):
            if col not in samples.columns:
                raise ValueError(f"usage samples: missing column {col!r}")
        rate = samples["request_rate_rps"].to_numpy(float)
        util = samples["gpu_util_pct"].to_numpy(float) / 100.0
        reps = samples["replicas"].to_numpy(float) if "replicas" in samples else np.ones_like(rate)
        for name, arr in (("request_rate_rps", rate), ("gpu_util_pct", util)):
            bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
            if bad.size:
                raise ValueError(f"usage samples row {bad[0]}, column {name!r}: not a number >= 0")
        x = rate / np.maximum(reps, 1e-9)
        keep = (util > 0.02) & (util < 0.95) & (x > 0)  # saturated or idle rows carry no slope
        steady = keep & np.isclose(reps, np.round(reps), rtol=0.0, atol=1e-6)
        keep = steady if steady.sum() >= 10 else keep
        if keep.sum() < 10:
            raise ValueError("usage samples: need >= 10 rows with 2-95 % GPU utilisation to fit")
        x, u = x[keep], util[keep]
        return float((x @ u) / (x @ x))

    # -- predictions -----------------------------------------------------------------------
    def gpu_arrival_rps(self, demand_rps: np.ndarray | float) -> np.ndarray:
        """Requests that reach the GPUs after the cache."""
        return np.asarray(demand_rps, float) * (1.0 - self.cache_hit_rate)

    def service_latency_ms(self, arrival_rps: np.ndarray, replicas: np.ndarray) -> np.ndarray:
        """p95 of batch wait + batch service time (no queueing), per element."""
        check_is_fitted(self, "throughput_rps_")
        lam_r = np.asarray(arrival_rps, float) / np.maximum(np.asarray(replicas, float), 1.0)
        lam_r = lam_r / self.gpu_count  # per GPU copy
        b = float(self.batch_size)
        window_s = (self.batch_time_ms_ + self.max_batch_wait_ms_) / 1000.0
        b_eff = np.clip(lam_r * window_s, 1.0, b)
        t_batch = self.service_time_ms_ * (1.0 + self.batch_cost_factor_ * (b_eff - 1.0))
        wait = (
            0.0
            if b == 1
            else np.minimum(self.max_batch_wait_ms_, 1000.0 * (b - 1) / np.maximum(lam_r, 1e-9))
        )
        return wait + t_batch * (1.0 + 1.645 * self.service_time_cv_)

    def p95_latency_ms(self, arrival_rps: np.ndarray, replicas: np.ndarray) -> np.ndarray:
        """p95 latency (ms) at ``arrival_rps`` reaching the GPUs with ``replicas`` replicas.

        ``inf`` where the replicas cannot keep up (utilisation >= 1) or there are none.
        """
        return self.latency_ms(arrival_rps, replicas)[0]

    def latency_ms(
        self, arrival_rps: np.ndarray, replicas: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(p95 latency, p95 without queueing) in ms, computed together (see above)."""
        lam = np.asarray(arrival_rps, float)
        c = np.asarray(replicas, float)
        mu = self.throughput_rps_
        cap = c * mu
        rho = np.where(cap > 0, lam / np.maximum(cap, 1e-12), np.inf)
        pw = wait_probability(c, np.minimum(rho, 1.0))
        k = (1.0 + self.service_time_cv_**2) / 2.0
        slack = np.maximum(cap - lam, 1e-12)
        wait_s = np.where(pw > 0.05, k * np.log(np.maximum(pw, 0.05) / 0.05) / slack, 0.0)
        svc = self.service_latency_ms(lam, c)
        return np.where(rho < 1.0, svc + 1000.0 * wait_s, np.inf), svc

    def gpu_utilisation(self, arrival_rps: np.ndarray, replicas: np.ndarray) -> np.ndarray:
        """Busy fraction of the replicas' GPUs (0-1), capped at 1."""
        cap = np.asarray(replicas, float) * self.throughput_rps_
        return np.clip(np.asarray(arrival_rps, float) / np.maximum(cap, 1e-12), 0.0, 1.0)

    def replicas_for_slo(
        self, arrival_rps: float, slo_p95_ms: float, max_replicas: int = 1000
    ) -> int | None:
        """Fewest replicas whose p95 at ``arrival_rps`` meets ``slo_p95_ms`` (None if none do)."""
        lo = max(1, math.ceil(arrival_rps / self.throughput_rps_ + 1e-12))
        c = np.arange(lo, max(lo, max_replicas) + 1)
        ok = np.flatnonzero(self.p95_latency_ms(np.full(c.shape, arrival_rps), c) <= slo_p95_ms)
        return int(c[ok[0]]) if ok.size else None
