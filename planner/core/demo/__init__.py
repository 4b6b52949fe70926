"""The demo fleet: seven multimodal services on AWS, Azure and Google Cloud GPUs.

Deterministic for a seed. Demand follows diurnal and weekly cycles with the minute-to-minute
burstiness of the real Azure LLM inference trace (fixtures/llm_requests_per_minute.csv); replicas
follow demand like an autoscaler with a utilisation target; capacity is bought as commitments,
spot and on-demand; prices come from fixtures/demo_catalog.csv. Billing records are FOCUS 1.2
rows handed to the same loader every connector uses; usage samples are written per deployment at
`usage_step_min` resolution. A few cost anomalies are injected and returned so tests can find them.

The package's modules: :mod:`.fleet` (services, accounts, catalog), :mod:`.demand` (demand and
injected anomalies), :mod:`.focus_rows` (FOCUS rows of the services' compute),
:mod:`.overhead` (storage, egress, credits, the stray instance), :mod:`.usage` (first-draft
usage samples). :func:`generate` puts them together; the fleet is then run by its autoscalers
(:mod:`planner.whatif.demo_operations`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from planner.billing.demo_shared_nodes import spare_node_rows
from planner.core.demo.demand import (
    InjectedAnomaly,
    _anomalies,
    burstiness,
    demand_profile,
    replicas_for,
)
from planner.core.demo.fleet import (
    ACCOUNTS,
    COMPUTE_SERVICE,
    FIXTURES,
    PROVIDER_NAMES,
    REGION_NAMES,
    SERVICES,
    STORAGE_SERVICE,
    DemoService,
    load_catalog,
)
from planner.core.demo.focus_rows import (
    _base_row,
    _billing_rows,
    _month_start,
    _next_month,
    to_focus_batches,
)
from planner.core.demo.overhead import _overhead_rows
from planner.core.demo.usage import _usage_rows

__all__ = [
    "ACCOUNTS",
    "COMPUTE_SERVICE",
    "FIXTURES",
    "PROVIDER_NAMES",
    "REGION_NAMES",
    "SERVICES",
    "STORAGE_SERVICE",
    "DemoService",
    "InjectedAnomaly",
    "_anomalies",
    "_base_row",
    "_billing_rows",
    "_month_start",
    "_next_month",
    "_overhead_rows",
    "_usage_rows",
    "burstiness",
    "demand_profile",
    "generate",
    "load_catalog",
    "replicas_for",
    "to_focus_batches",
]


def generate(days: int = 90, seed: int = 7, end: dt.date | None = None, usage_step_min: int = 5):
    """Return (billing: pd.DataFrame of FOCUS 1.2 rows, usage: pd.DataFrame, anomalies: list).

    `end` is the exclusive last day (default: today, UTC)."""
    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    end_day = pd.Timestamp(end or dt.datetime.now(dt.UTC).date(), tz="UTC")
    start_day = end_day - pd.Timedelta(days=days)
    minutes = pd.date_range(start_day, end_day, freq=f"{usage_step_min}min", inclusive="left")
    hours = pd.date_range(start_day, end_day, freq="h", inclusive="left")
    anomalies = _anomalies(start_day, days)
    billing, usage = [], []
    for svc in SERVICES:
        offer = catalog[(svc.provider, svc.instance_type, svc.region)]
        rps = demand_profile(svc, minutes, rng)
        reps = replicas_for(svc, rps)
        # Billing is hourly: the hour's peak replica count (instances are billed while up).
        per_hour = (
            pd.Series(reps, index=minutes).resample("h").max().reindex(hours).to_numpy().copy()
        )
        for a in anomalies:
            if a.kind == "runaway-scale-out" and a.service == svc.slug:
                mask = (hours >= a.start) & (hours < a.end)
                per_hour[mask] = svc.max_replicas
        billing.append(_billing_rows(svc, offer, hours, per_hour, rng))
        usage.append(_usage_rows(svc, offer, minutes, rps, reps, rng, usage_step_min))
    billing.append(_overhead_rows(hours, anomalies, catalog, rng))
    billing.append(spare_node_rows(SERVICES, catalog, hours, _base_row, COMPUTE_SERVICE))
    from planner.whatif.demo_operations import operate  # the fleet run by its autoscalers

    frames = pd.concat(billing, ignore_index=True), pd.concat(usage, ignore_index=True)
    return (*operate(*frames, SERVICES, catalog, anomalies, seed), anomalies)
