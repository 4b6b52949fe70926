"""Write the demo fleet into the database and line-item store through the real loader."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from planner.billing.loader import load_batches
from planner.billing.models import IngestRun, RunSource, RunStatus
from planner.core import demo
from planner.core.models import CloudAccount, Deployment, IngestSource, Service
from planner.core.roles import ADMIN, ANALYST, VIEWER, assign_role
from planner.usage import demo as serving_demo
from planner.usage.models import UsageSample


def ensure_fleet() -> dict[str, Deployment]:
    catalog = demo.load_catalog()
    accounts = {}
    for provider, (acct_id, name) in demo.ACCOUNTS.items():
        accounts[provider], _ = CloudAccount.objects.update_or_create(
            provider=provider,
            account_id=acct_id,
            defaults={
                "name": name,
                "source": IngestSource.FOCUS_FILE,
                "credential_ref": "default-chain",
            },
        )
    deployments = {}
    for svc in demo.SERVICES:
        service, _ = Service.objects.update_or_create(
            slug=svc.slug,
            defaults={
                "name": svc.name,
                "modality": svc.modality,
                "unit_of_work": svc.unit_of_work,
                "units_per_request": svc.units_per_request,
                "latency_slo_p95_ms": svc.slo_p95_ms,
                "team": "ml-platform",
                "tag_value": svc.slug,
            },
        )
        offer = catalog[(svc.provider, svc.instance_type, svc.region)]
        deployments[svc.slug], _ = Deployment.objects.update_or_create(
            name=f"{svc.slug}-{svc.region}",
            defaults={
                "service": service,
                "account": accounts[svc.provider],
                "provider": svc.provider,
                "region": svc.region,
                "instance_type": svc.instance_type,
                "gpu_model": offer["gpu_model"],
                "gpu_count": offer["gpu_count"],
                "min_replicas": svc.min_replicas,
                "max_replicas": svc.max_replicas,
                "throughput_rps_per_replica": svc.throughput_rps,
                "cluster": f"{svc.provider}-prod",
                "namespace": "inference",
            },
        )
    return deployments


def seed_demo(
    days: int = 90, seed: int = 7, end: dt.date | None = None, usage_step_min: int = 5, log=print
):
    """Create (or replace) the demo fleet. Idempotent: a second run with the same arguments gives
    the same totals, because each billing period is replaced, not appended."""
    deployments = ensure_fleet()
    billing, usage, anomalies = demo.generate(
        days=days, seed=seed, end=end, usage_step_min=usage_step_min
    )
    for provider, (acct_id, _name) in demo.ACCOUNTS.items():
        account = CloudAccount.objects.get(provider=provider, account_id=acct_id)
        rows = billing[billing["BillingAccountId"] == acct_id]
        run = IngestRun.objects.create(
            account=account,
            source=RunSource.DEMO,
            source_uri=f"demo://seed={seed}",
            status=RunStatus.RUNNING,
            started_at=timezone.now(),
        )
        result = load_batches(demo.to_focus_batches(rows), account, run=run)
        IngestRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED,
            progress=1.0,
            rows_read=result.rows_read,
            rows_stored=result.rows_stored,
            periods=result.periods,
            totals=result.totals,
            finished_at=timezone.now(),
            duration_s=(timezone.now() - run.started_at).total_seconds(),
        )
        log(
            f"  {account.name}: {result.rows_read:,} billing records in {len(result.periods)} periods"
        )
    usage = serving_demo.add_serving_columns(usage, seed)
    _write_usage(usage, deployments)
    serving_demo.seed_serving_metrics(usage, deployments)
    log(f"  usage: {len(usage):,} samples for {len(deployments)} deployments")
    return anomalies


def _write_usage(usage, deployments) -> None:
    cols = [  # "_" columns are the generator's own (e.g. per-minute p95 for the histograms)
        c for c in usage.columns if c not in ("service", "ts", "step_seconds") and c[0] != "_"
    ]
    with transaction.atomic():
        UsageSample.objects.filter(deployment__in=list(deployments.values())).delete()
        for slug, frame in usage.groupby("service", sort=False):
            dep = deployments[slug]
            values = {c: frame[c].to_numpy(dtype=float) for c in cols}
            ts = list(frame["ts"].dt.to_pydatetime())
            steps = frame["step_seconds"].to_numpy()
            objs = []
            for i in range(len(frame)):
                kw = {c: (None if np.isnan(values[c][i]) else float(values[c][i])) for c in cols}
                objs.append(UsageSample(deployment=dep, ts=ts[i], step_seconds=int(steps[i]), **kw))
            UsageSample.objects.bulk_create(objs, batch_size=5000)


def demo_is_loaded() -> bool:
    return (
        Service.objects.filter(slug=demo.SERVICES[0].slug).exists() and UsageSample.objects.exists()
    )


def ensure_demo_logins() -> dict[str, str]:
    """Create demo users for each role with random passwords kept in var/ (never in the repo)."""
    path = Path(settings.VAR_DIR) / "demo_credentials.txt"
    creds: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if ":" in line:
                user, pw = line.split(":", 1)
                creds[user.strip()] = pw.strip()
    User = get_user_model()
    for username, role in (("demo", ADMIN), ("analyst", ANALYST), ("viewer", VIEWER)):
        password = creds.get(username) or secrets.token_urlsafe(12)
        creds[username] = password
        user, _ = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.set_password(password)
        user.save()
        assign_role(user, role)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{u}: {p}\n" for u, p in creds.items()))
    path.chmod(0o600)
    return creds


def seed_extras() -> list[str]:
    """After the fleet: what the feature apps derive from it, so a newcomer's first look at
    every page has content (plans; anomalies and budgets; recommendations)."""
    from django.conf import settings as dj_settings

    done = []
    if "planner.plans" in dj_settings.INSTALLED_APPS:
        from planner.plans.demo import seed_demo_plans

        done.append(f"plans: {len(seed_demo_plans())} demo plan versions")
    if "planner.alerts" in dj_settings.INSTALLED_APPS:
        from planner.alerts.detection import detect_cost_anomalies

        done.append(f"anomalies: {len(detect_cost_anomalies())} detected in the demo spend")
        from planner.alerts.demo import seed_demo_budgets_summary

        done.append(seed_demo_budgets_summary())
    if "planner.whatif" in dj_settings.INSTALLED_APPS:
        from planner.whatif.services import refresh_all_recommendations

        done.append(
            f"recommendations: {refresh_all_recommendations()} generated from the demo usage"
        )
    from planner.chargeback.demo import seed_demo_finops  # teams, rules, commitments

    done.append(seed_demo_finops())
    return done
