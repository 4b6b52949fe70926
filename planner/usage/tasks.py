"""Celery tasks for the metrics connectors: DCGM GPU usage and inference-server metrics.

* ``ingest_prometheus_usage(deployment_id, start, end, step_s)`` — one deployment's GPU,
  traffic and serving metrics into ``UsageSample`` rows (the window is replaced atomically),
  and its latency histograms per whole hour into ``LatencyHistogram`` rows (upserted); missing
  series are recorded on an IngestRun as warnings, never stored as zero.
* :func:`queue_usage_ingest` — queued by the beat task :func:`schedule_usage_ingest`.

The serving stack is chosen per deployment (:class:`planner.usage.models.ServingEndpoint`).
``units_of_work`` is measured from the stack's counters when the service's unit has one
(:mod:`planner.usage.units`), else estimated as requests × ``units_per_request``.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from ingest.retry import TransientError
from planner.billing.connectors import external_call_policy
from planner.billing.models import IngestRun, RunSource, RunStatus
from planner.core.data_version import data_changed
from planner.core.models import Deployment
from planner.usage.models import LatencyHistogram, ServingEndpoint, UsageSample
from planner.usage.units import measured_unit

RETRY = dict(
    autoretry_for=(TransientError, OperationalError),
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=5,
)
SAMPLE_FIELDS = [
    f.name
    for f in UsageSample._meta.get_fields()
    if f.concrete
    and f.name not in ("id", "deployment", "ts", "step_seconds", "mig_profile", "units_of_work")
]


def serving_stack_for(deployment: Deployment):
    """The deployment's :class:`ingest.prometheus.serving.ServingStack`, or None."""
    from ingest.prometheus.serving import stack

    endpoint = ServingEndpoint.objects.filter(deployment=deployment).first()
    if endpoint is None or not endpoint.stack:
        return None
    return stack(endpoint.stack, endpoint.metrics_mapping)


def _queries_for(deployment: Deployment, selector: str, step_s: int):
    from ingest.prometheus import UsageQueries

    overrides = settings.PROMQL_OVERRIDES
    window = settings.PROMQL_RATE_WINDOW
    base = UsageQueries(rate_window=window)
    serving = serving_stack_for(deployment)
    rendered = serving.render(selector, step_s, window) if serving else {}
    return base.for_service(
        {**rendered, **overrides.get("*", {}), **overrides.get(deployment.service.slug, {})}
    ), serving


def _selector(deployment: Deployment) -> str:
    from ingest.prometheus import selector_for

    return selector_for(deployment.namespace, deployment.name, settings.PROMQL_SELECTOR)


def _units(row_values: dict, deployment: Deployment, step_s: int) -> float | None:
    measured = measured_unit(deployment.service.unit_of_work)
    if measured is not None:
        units = measured.of(row_values)
        if units is not None:
            return units
    rps = row_values.get("request_rate_rps")
    return None if rps is None else rps * step_s * deployment.service.units_per_request


def prometheus_client():
    """The Prometheus client of usage ingest: settings' URL, token and call timeout."""
    from ingest.prometheus import PrometheusClient

    if not settings.PROMETHEUS_URL:
        raise TransientError("PROMETHEUS_URL is not set; cannot read usage")
    return PrometheusClient(
        settings.PROMETHEUS_URL,
        token=settings.PROMETHEUS_BEARER_TOKEN or None,
        policy=external_call_policy(),
    )


def store_usage(
    deployment: Deployment, start: dt.datetime, end: dt.datetime, *, step_s: int = 60, client=None
):
    """Read one deployment's usage over [start, end] and replace its UsageSample rows there.

    Returns the :class:`ingest.prometheus.UsageResult` (its ``missing`` list says what had no
    data, histograms included).
    """
    from ingest.prometheus import read_usage
    from ingest.prometheus.serving import read_histograms

    if client is None:
        client = prometheus_client()
    selector = _selector(deployment)
    queries, serving = _queries_for(deployment, selector, step_s)
    result = read_usage(
        client,
        selector,
        start,
        end,
        step_s=step_s,
        queries=queries,
        default_profile=deployment.mig_profile,
    )
    objs = []
    for r in result.rows:
        values = {k: getattr(r, k) for k in SAMPLE_FIELDS}
        if all(v is None for v in values.values()):
            continue  # nothing known at this step: reported in result.missing, not stored as zero
        objs.append(
            UsageSample(
                deployment=deployment,
                ts=r.ts,
                step_seconds=step_s,
                mig_profile=r.mig_profile,
                units_of_work=_units(values, deployment, step_s),
                **values,
            )
        )
    windows = []
    if serving is not None:
        windows, gaps = read_histograms(client, serving, selector, start, end)
        result.missing.extend(gaps)
    with transaction.atomic():
        if objs:
            # An empty read (e.g. past retention) keeps what was stored before.
            UsageSample.objects.filter(deployment=deployment, ts__gte=start, ts__lte=end).delete()
            UsageSample.objects.bulk_create(objs, batch_size=2000)
            transaction.on_commit(data_changed)  # pages read mid-load: see data_version
        for w in windows:
            LatencyHistogram.objects.update_or_create(
                deployment=deployment,
                kind=w.kind,
                end=w.end,
                defaults={
                    "seconds": w.seconds,
                    "source_metric": serving.histograms[w.kind].bucket_metric,
                    "bounds_ms": [b if b != float("inf") else None for b in w.bounds_ms],
                    "counts": w.counts,
                },
            )
    return result


@shared_task(bind=True, name="planner.usage.tasks.ingest_prometheus_usage", **RETRY)
def ingest_prometheus_usage(
    self, deployment_id: int, start_iso: str, end_iso: str, step_s: int = 60
) -> dict:
    deployment = Deployment.objects.select_related("service").get(pk=deployment_id)
    start, end = dt.datetime.fromisoformat(start_iso), dt.datetime.fromisoformat(end_iso)
    run = IngestRun.objects.create(
        account=deployment.account,
        source=RunSource.PROMETHEUS,
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
        status=RunStatus.SUCCEEDED,
        finished_at=timezone.now(),
        progress=1.0,
        rows_read=len(result.rows),
        rows_stored=stored,
        warnings=result.missing[:200],
        progress_message=f"{stored} usage samples; {len(result.missing)} gap report(s)",
    )
    return {"deployment": deployment_id, "samples": stored, "missing": result.missing}


def queue_usage_ingest(now: dt.datetime) -> int:
    """Queue a usage ingest for every deployment over the last lookback window, if Prometheus is set."""
    if not settings.PROMETHEUS_URL:
        return 0
    step = settings.PROMETHEUS_STEP_SECONDS
    lookback = dt.timedelta(minutes=settings.PROMETHEUS_LOOKBACK_MINUTES)
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


@shared_task(name="planner.usage.tasks.schedule_usage_ingest")
def schedule_usage_ingest() -> int:
    """Beat entry point: queue a usage ingest per deployment over the last lookback window."""
    return queue_usage_ingest(timezone.now())


@shared_task(name="planner.usage.tasks.maintain_usage_partitions")
def maintain_usage_partitions() -> dict:
    """Beat (daily): monthly usage-sample partitions two years ahead (PostgreSQL), and samples
    older than USAGE_RETENTION_MONTHS removed, whole months at a time (0 keeps everything).
    Idempotent."""
    from django.db import connection

    from planner.usage.partitions import USAGE_SAMPLES

    return USAGE_SAMPLES.maintain(connection, settings.USAGE_RETENTION_MONTHS)
