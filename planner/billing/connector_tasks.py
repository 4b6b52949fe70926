"""Celery tasks for the cloud connectors and the price refresh. Thin, idempotent, take ids.

Metrics (Prometheus / DCGM / inference servers) are read by :mod:`planner.usage.tasks`.

* ``ingest_account_period(run_id)`` — one account × billing period (the run row is the claim);
  transient errors (throttling, 429/503, resets) retry with exponential backoff and jitter,
  auth errors fail at once with a clear message on the run.
* ``refresh_price_catalog(account_id)`` — EC2 spot price history (AWS accounts) or Cloud
  Catalog SKUs (Google accounts) into ``var/prices/price_updates.csv``;
  :func:`refreshed_price_catalog` applies it on top of the seed catalog.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction

from ingest.retry import TransientError
from planner.billing.connectors import (
    credential_value,
    execute_connector_run,
    external_call_policy,
)
from planner.billing.pricing import _note_refresh, _refresh_log, save_price_updates
from planner.billing.runs import is_final_attempt
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
def ingest_account_period(self, run_id: int, reclaim: bool = False) -> dict:
    redelivered = (  # reclaim: sent by the requeue sweep after the worker's lease lapsed
        reclaim
        or bool((self.request.delivery_info or {}).get("redelivered"))
        or self.request.retries > 0
    )
    final = is_final_attempt(self)
    run = execute_connector_run(run_id, redelivered=redelivered, final_attempt=final)
    return {"run": run.pk, "status": run.status, "rows": run.rows_stored}


def enqueue_connector_run(run_id: int) -> None:
    """Queue after the run row is committed, so a worker never looks for a row it can't see."""
    transaction.on_commit(lambda: ingest_account_period.delay(run_id))


@shared_task(bind=True, name="planner.billing.connector_tasks.refresh_price_catalog", **RETRY)
def refresh_price_catalog(self, account_id: int) -> dict:
    account = CloudAccount.objects.get(pk=account_id)
    if account.provider == Provider.AWS:
        from ingest.aws import AwsClient, fetch_spot_prices
        from ingest.aws.spot import SOURCE

        client = AwsClient(profile=credential_value(account), policy=external_call_policy())
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
            catalog_endpoint=settings.GCP_CATALOG_ENDPOINT,
            policy=external_call_policy(),
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
