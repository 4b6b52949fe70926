"""Celery tasks for the cloud and metrics connectors. Thin, idempotent, take ids.

* ``ingest_account_period(run_id)`` — one account × billing period (the run row is the claim);
  transient errors (throttling, 429/503, resets) retry with exponential backoff and jitter,
  auth errors fail at once with a clear message on the run.
* ``ingest_prometheus_usage(deployment_id, start, end, step_s)`` — GPU and traffic usage of
  one deployment into ``UsageSample`` rows (the window is replaced atomically; missing
  series are recorded on an IngestRun as warnings, never stored as zero).
* ``refresh_price_catalog(account_id)`` — EC2 spot price history (AWS accounts) or Cloud
  Catalog SKUs (Google accounts) into ``var/prices/price_updates.csv``;
  :func:`refreshed_price_catalog` applies it on top of the seed catalog.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

import pandas as pd
from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from ingest.retry import TransientError
from planner.billing.connectors import credential_value, execute_connector_run
from planner.billing.models import IngestRun, RunStatus, UsageSample
from planner.core.models import CloudAccount, Deployment, Provider

log = logging.getLogger(__name__)
RETRY = dict(
    autoretry_for=(TransientError, OperationalError),
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=5,
)


@shared_task(
    bind=True,
    name="planner.billing.connector_tasks.ingest_account_period",
    acks_late=True,
    reject_on_worker_lost=True,
    **RETRY,
)
def ingest_account_period(self, run_id: int) -> dict:
    redelivered = (
        bool((self.request.delivery_info or {}).get("redelivered")) or self.request.retries > 0
    )
    final = self.request.retries >= self.max_retries
    run = execute_connector_run(run_id, redelivered=redelivered, final_attempt=final)
    return {"run": run.pk, "status": run.status, "rows": run.rows_stored}


def enqueue_connector_run(run_id: int) -> None:
    """Queue after the run row is committed, so a worker never looks for a row it can't see."""
    transaction.on_commit(lambda: ingest_account_period.delay(run_id))


# -- Prometheus usage -------------------------------------------------------------------
def _queries_for(deployment: Deployment):
    from ingest.prometheus import UsageQueries

    overrides = json.loads(os.environ.get("HEADROOM_PROMQL_OVERRIDES", "") or "{}")
    base = UsageQueries(rate_window=os.environ.get("HEADROOM_PROMQL_RATE_WINDOW", "5m"))
    return base.for_service(
        {**overrides.get("*", {}), **overrides.get(deployment.service.slug, {})}
    )


def store_usage(
    deployment: Deployment, start: dt.datetime, end: dt.datetime, *, step_s: int = 60, client=None
):
    """Read one deployment's usage over [start, end] and replace its UsageSample rows there.

    ``units_of_work`` = requests in the step × the service's ``units_per_request``. Returns
    the :class:`ingest.prometheus.UsageResult` (its ``missing`` list says what had no data).
    """
    from ingest.prometheus import PrometheusClient, read_usage, selector_for

    if client is None:
        if not settings.PROMETHEUS_URL:
            raise TransientError("PROMETHEUS_URL is not set; cannot read usage")
        client = PrometheusClient(settings.PROMETHEUS_URL, token_env="PROMETHEUS_BEARER_TOKEN")
    template = (
        os.environ.get("HEADROOM_PROMQL_SELECTOR") or 'namespace="{namespace}",pod=~"{name}-.*"'
    )
    result = read_usage(
        client, selector_for(deployment.namespace, deployment.name, template), start, end,
        step_s=step_s, queries=_queries_for(deployment), default_profile=deployment.mig_profile,
    )  # fmt: skip
    per_request = deployment.service.units_per_request
    objs = []
    for r in result.rows:
        values = {
            k: getattr(r, k)
            for k in (
                "gpu_util_pct",
                "gpu_mem_used_gib",
                "gpu_mem_total_gib",
                "replicas",
                "request_rate_rps",
                "queue_depth",
                "p50_latency_ms",
                "p95_latency_ms",
            )
        }
        if all(v is None for v in values.values()):
            continue  # nothing known at this step: reported in result.missing, not stored as zero
        units = None if r.request_rate_rps is None else r.request_rate_rps * step_s * per_request
        objs.append(
            UsageSample(
                deployment=deployment,
                ts=r.ts,
                step_seconds=step_s,
                mig_profile=r.mig_profile,
                units_of_work=units,
                **values,
            )
        )
    if not objs:
        # Nothing at all came back (e.g. the window is past Prometheus' retention): keep what was
        # stored before rather than replacing it with nothing. result.missing says why.
        return result
    with transaction.atomic():
        UsageSample.objects.filter(deployment=deployment, ts__gte=start, ts__lte=end).delete()
        UsageSample.objects.bulk_create(objs, batch_size=2000)
    return result


@shared_task(bind=True, name="planner.billing.connector_tasks.ingest_prometheus_usage", **RETRY)
def ingest_prometheus_usage(
    self, deployment_id: int, start_iso: str, end_iso: str, step_s: int = 60
) -> dict:
    deployment = Deployment.objects.select_related("service").get(pk=deployment_id)
    start, end = dt.datetime.fromisoformat(start_iso), dt.datetime.fromisoformat(end_iso)
    run = IngestRun.objects.create(
        account=deployment.account,
        source="prometheus",
        source_uri=f"{settings.PROMETHEUS_URL} {deployment.name}",
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        attempts=self.request.retries + 1,
    )
    try:
        result = store_usage(deployment, start, end, step_s=step_s)
    except Exception as exc:
        retrying = isinstance(exc, TransientError) and self.request.retries < self.max_retries
        note = "transient failure; the task retries" if retrying else "failed"
        IngestRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            errors=[f"{note}: {type(exc).__name__}: {exc}"[:2000]],
        )
        raise
    stored = UsageSample.objects.filter(deployment=deployment, ts__gte=start, ts__lte=end).count()
    IngestRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, finished_at=timezone.now(), progress=1.0, rows_read=len(result.rows), rows_stored=stored,
        warnings=result.missing[:200], progress_message=f"{stored} usage samples; {len(result.missing)} gap report(s)",
    )  # fmt: skip
    return {"deployment": deployment_id, "samples": stored, "missing": result.missing}


def queue_usage_ingest(now: dt.datetime) -> int:
    """Queue a usage ingest for every deployment over the last lookback window, if Prometheus is set."""
    if not settings.PROMETHEUS_URL:
        return 0
    step = int(getattr(settings, "PROMETHEUS_STEP_SECONDS", 60))
    lookback = dt.timedelta(minutes=int(getattr(settings, "PROMETHEUS_LOOKBACK_MINUTES", 60)))
    end = dt.datetime.fromtimestamp(int(now.timestamp()) // step * step, dt.UTC)
    start = end - lookback
    ids = list(Deployment.objects.values_list("pk", flat=True))
    for pk in ids:
        transaction.on_commit(
            lambda pk=pk: ingest_prometheus_usage.delay(
                pk, start.isoformat(), end.isoformat(), step
            )
        )
    return len(ids)


# -- price catalog ------------------------------------------------------------------------
def price_updates_path() -> Path:
    return Path(settings.VAR_DIR) / "prices" / "price_updates.csv"


def save_price_updates(rows: list[dict], source: str, path: Path | None = None) -> int:
    """Merge refreshed prices into the CSV (one row per provider × type × region × source)."""
    path = path or price_updates_path()
    if not rows:
        return 0
    new = pd.DataFrame(rows).assign(source=source, fetched_at=timezone.now().isoformat())
    if path.exists():
        old = pd.read_csv(path)
        key = ["provider", "instance_type", "region", "source"]
        old = old.merge(new[key], on=key, how="left", indicator=True)
        old = old[old["_merge"] == "left_only"].drop(columns="_merge")
        new = pd.concat([old, new], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    new.to_csv(tmp, index=False)
    tmp.replace(path)  # readers never see a half-written file
    return len(rows)


def _refresh_log_path() -> Path:
    return Path(settings.VAR_DIR) / "prices" / "last_refresh.json"


def _refresh_log() -> dict[str, str]:
    path = _refresh_log_path()
    return json.loads(path.read_text()) if path.exists() else {}


def _note_refresh(source: str) -> None:
    log_ = {**_refresh_log(), source: timezone.now().isoformat()}
    path = _refresh_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(log_, indent=1, sort_keys=True))
    tmp.replace(path)


def refreshed_price_catalog(path: Path | None = None):
    """The seed :class:`costmodels.catalog.PriceCatalog` with every saved refresh applied."""
    from costmodels.catalog import PriceCatalog

    catalog = PriceCatalog.load_default()
    path = path or price_updates_path()
    if path.exists():
        df = pd.read_csv(path)
        for source, group in df.groupby("source"):
            catalog.update_prices(
                group.drop(columns=["source", "fetched_at"], errors="ignore"), source=str(source)
            )
    return catalog


@shared_task(bind=True, name="planner.billing.connector_tasks.refresh_price_catalog", **RETRY)
def refresh_price_catalog(self, account_id: int) -> dict:
    account = CloudAccount.objects.get(pk=account_id)
    if account.provider == Provider.AWS:
        from ingest.aws import AwsClient, fetch_spot_prices
        from ingest.aws.spot import SOURCE

        client = AwsClient(profile=credential_value(account))
        by_region: dict[str, set[str]] = {}
        for region, itype in Deployment.objects.filter(provider=Provider.AWS).values_list(
            "region", "instance_type"
        ):
            by_region.setdefault(region, set()).add(itype)
        rows = [
            r
            for region, types in sorted(by_region.items())
            for r in fetch_spot_prices(client, region, sorted(types))
        ]
        saved = save_price_updates(rows, SOURCE)
        _note_refresh(SOURCE)
        return {"account": account_id, "source": SOURCE, "rows": saved}
    if account.provider == Provider.GCP:
        from costmodels.catalog import DATA_DIR
        from ingest.gcp import GcpClient, fetch_gcp_prices, machine_shapes
        from ingest.gcp.catalog import SOURCE as GCP_SOURCE

        client = GcpClient(
            credentials_file=credential_value(account),
            catalog_endpoint=os.environ.get("HEADROOM_GCP_CATALOG_ENDPOINT") or None,
        )
        rows, notes = fetch_gcp_prices(client, machine_shapes(DATA_DIR / "gcp_gpu_prices.csv"))
        for n in notes[:20]:
            log.info("GCP price refresh: %s", n)
        saved = save_price_updates(rows, GCP_SOURCE)
        _note_refresh(GCP_SOURCE)
        return {"account": account_id, "source": GCP_SOURCE, "rows": saved}
    return {"account": account_id, "source": None, "rows": 0}


PRICE_REFRESH_EVERY = dt.timedelta(hours=24)


def queue_price_refresh(now: dt.datetime) -> int:
    """Queue a price refresh per provider (AWS spot history, GCP catalog) at most once a day.

    Uses the first enabled scheduled account of each provider for credentials."""
    from ingest.aws.spot import SOURCE as AWS_SOURCE
    from ingest.gcp.catalog import SOURCE as GCP_SOURCE
    from planner.billing.connectors import CONNECTOR_SOURCES

    last = {k: dt.datetime.fromisoformat(v) for k, v in _refresh_log().items()}
    queued = 0
    for provider, source in ((Provider.AWS, AWS_SOURCE), (Provider.GCP, GCP_SOURCE)):
        if source in last and now - last[source] < PRICE_REFRESH_EVERY:
            continue
        account = (
            CloudAccount.objects.filter(
                provider=provider, enabled=True, source__in=CONNECTOR_SOURCES
            )
            .order_by("pk")
            .first()
        )
        if account is None:
            continue
        transaction.on_commit(lambda pk=account.pk: refresh_price_catalog.delay(pk))
        queued += 1
    return queued
