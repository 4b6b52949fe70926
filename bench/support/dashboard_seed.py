"""Seed data for bench/dashboard.py: the fleet through the ORM, rollups generated inside
PostgreSQL, usage samples for COPY. Imported only after Django is set up."""

from __future__ import annotations

import datetime as dt

import numpy as np

# Every account runs every service (compute rows per purchase category), plus storage rows.
ROLLUP_SQL = """
    INSERT INTO billing_costrollup (date, account_id, billing_period_start, provider,
        service_name, region, resource_id, sku, pricing_category, charge_category,
        service_tag, service_id, currency, billed_cost, effective_cost, list_cost,
        consumed_quantity, line_items, billing_currency, billing_billed_cost,
        billing_effective_cost, billing_list_cost, fx_rate)
    SELECT d::date, a.id, date_trunc('month', d)::date,
           CASE a.provider WHEN 'aws' THEN 'AWS' WHEN 'azure' THEN 'Microsoft'
                ELSE 'Google Cloud' END,
           'Compute', 'us-east-1', 'r-' || s.slug || '-' || c.cat, 'g5.2xlarge', c.cat,
           'Usage', s.slug, s.id, 'USD', x.cost, x.cost, x.cost * 1.3, x.cost / 1.2, 24,
           'USD', x.cost, x.cost, x.cost * 1.3, 1
    FROM generate_series(%s::date, %s::date, '1 day') d
    CROSS JOIN core_cloudaccount a CROSS JOIN core_service s
    CROSS JOIN (VALUES ('Standard', 0.6), ('Dynamic', 0.15), ('Committed', 0.25)) c(cat, share)
    CROSS JOIN LATERAL (SELECT round(((50 + (s.id %% 17) * 20) * c.share
                        * (0.8 + 0.4 * random()))::numeric, 6) AS cost) x
    UNION ALL
    SELECT d::date, a.id, date_trunc('month', d)::date,
           CASE a.provider WHEN 'aws' THEN 'AWS' WHEN 'azure' THEN 'Microsoft'
                ELSE 'Google Cloud' END,
           'Storage', 'us-east-1', '', 'storage', 'Standard', 'Usage', '', NULL, 'USD',
           x.cost, x.cost, x.cost, x.cost, 1, 'USD', x.cost, x.cost, x.cost, 1
    FROM generate_series(%s::date, %s::date, '1 day') d CROSS JOIN core_cloudaccount a
    CROSS JOIN LATERAL (SELECT round((20 + 20 * random())::numeric, 6) AS cost) x
"""
SAMPLE_COLUMNS = [
    "deployment_id",
    "ts",
    "step_seconds",
    "mig_profile",
    "replicas",
    "gpu_util_pct",
    "gpu_mem_used_gib",
    "gpu_mem_total_gib",
    "request_rate_rps",
    "queue_depth",
    "p50_latency_ms",
    "p95_latency_ms",
    "units_of_work",
]
MODALITIES = [
    "llm_chat",
    "embeddings",
    "image_generation",
    "speech_to_text",
    "text_to_speech",
    "video",
]


def seed_fleet(n_services: int, n_accounts: int) -> tuple[list, list]:
    """Accounts, services and one deployment per service through the ORM."""
    from planner.core.models import CloudAccount, Deployment, Service

    providers = ["aws", "azure", "gcp", "aws", "gcp"]
    accounts = [
        CloudAccount.objects.create(
            provider=providers[i % 5], account_id=f"acct-{i}", name=f"Account {i}"
        )
        for i in range(n_accounts)
    ]
    services, deployments = [], []
    for i in range(n_services):
        s = Service.objects.create(
            slug=f"svc-{i:02d}",
            name=f"Service {i:02d}",
            modality=MODALITIES[i % 6],
            unit_of_work="1k tokens",
            latency_slo_p95_ms=500 + 100 * (i % 5),
        )
        services.append(s)
        a = accounts[i % n_accounts]
        deployments.append(
            Deployment.objects.create(
                service=s,
                account=a,
                name=f"svc-{i:02d}-main",
                provider=a.provider,
                region="us-east-1",
                instance_type="g5.2xlarge",
                gpu_model="NVIDIA A10G",
                throughput_rps_per_replica=5.0,
            )
        )
    return services, deployments


def samples(deployments: list, rng: np.random.Generator, end: dt.date):
    """15-minute usage samples over 30 days, a daily sine of request rate per deployment."""
    start = dt.datetime.combine(end - dt.timedelta(days=30), dt.time.min, tzinfo=dt.UTC)
    steps = 30 * 96
    for d in deployments:
        rps = 20 + 10 * np.sin(np.arange(steps) / 96 * 2 * np.pi) + rng.normal(0, 1, steps)
        for k in range(steps):
            r = float(max(rps[k], 0.0))
            ts = start + dt.timedelta(minutes=15 * k)
            replicas, util = float(np.ceil(r / 3.5)), min(99.0, 5 + r * 3)
            gpu = (replicas, util, 14.0, 24.0)  # replicas, util %, GPU memory used / total GiB
            yield (d.pk, ts, 900, "", *gpu, r, 0.0, 200.0, 400.0 + r * 5, r * 900)
