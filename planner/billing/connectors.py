"""Glue from a CloudAccount to its connector, and the run of one account × billing period.

Credentials: ``credential_ref == "default-chain"`` uses each SDK's default chain (instance
role, managed identity, workload identity). Any other value is the *name* of an environment
variable: for AWS it holds a profile name, for Azure a managed-identity client id, for Google
the path of a credentials file. Headroom never stores a secret.

Endpoints can be redirected (S3-compatible stores, sovereign clouds, test servers) with
``AWS_ENDPOINT_URL`` (boto3's own variable), ``HEADROOM_AZURE_ARM_ENDPOINT`` and
``HEADROOM_GCP_BIGQUERY_ENDPOINT``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import os
from typing import Any

from django.db.models import Q

from ingest.canonical import ConnectionCheck, PeriodRead
from ingest.retry import AuthError, ConnectorError, TransientError, classify
from planner.billing.loader import LoadError, LoadResult, load_batches
from planner.billing.models import IngestRun, RunStatus
from planner.billing.services import claim_run, finish_run, progress_reporter, run_lease
from planner.core.credentials import DEFAULT_CHAIN, credential_ref_problem, scrub
from planner.core.models import CloudAccount, IngestSource

log = logging.getLogger(__name__)

CONNECTOR_SOURCES = (
    IngestSource.AWS_EXPORT,
    IngestSource.AWS_COST_EXPLORER,
    IngestSource.AZURE_QUERY,
    IngestSource.AZURE_EXPORT,
    IngestSource.GCP_BIGQUERY,
)
FINGERPRINT_MARK = "#fingerprint="


def credential_value(account: CloudAccount) -> str | None:
    """``None`` for the default chain, else the value of the named environment variable."""
    ref = (account.credential_ref or "").strip()
    if ref in ("", DEFAULT_CHAIN):
        return None
    problem = credential_ref_problem(ref)
    if problem:  # stored before the rule existed, or written around the API
        raise AuthError(f"{account}: credential reference {ref!r} refused. {problem}")
    value = os.environ.get(ref)
    if not value:
        raise AuthError(
            f"{account}: credential reference {ref!r} names an environment variable that is not set "
            "on this worker; set it or use 'default-chain'"
        )
    return value


def build_connector(account: CloudAccount) -> Any:
    """The connector for the account's source, with its SDK client (no network call yet)."""
    source = account.source
    if source in (IngestSource.AWS_EXPORT, IngestSource.AWS_COST_EXPLORER):
        from ingest.aws import AwsClient, AwsExportConnector, CostExplorerConnector

        client = AwsClient(profile=credential_value(account))
        if source == IngestSource.AWS_EXPORT:
            return AwsExportConnector(account.source_uri, client)
        return CostExplorerConnector(account.account_id, client)
    if source in (IngestSource.AZURE_QUERY, IngestSource.AZURE_EXPORT):
        from ingest.azure import (
            AzureClient,
            AzureExportConnector,
            AzureQueryConnector,
            default_credential,
        )

        credential = default_credential(credential_value(account))
        client = AzureClient(
            credential, arm_endpoint=os.environ.get("HEADROOM_AZURE_ARM_ENDPOINT") or None
        )
        if source == IngestSource.AZURE_QUERY:
            scope = account.source_uri or f"/subscriptions/{account.account_id}"
            return AzureQueryConnector(scope, client)
        return AzureExportConnector(account.source_uri, client)
    if source == IngestSource.GCP_BIGQUERY:
        from ingest.gcp import BigQueryBillingConnector, GcpClient

        client = GcpClient(
            project=account.account_id if "." not in account.account_id else None,
            credentials_file=credential_value(account),
            bigquery_endpoint=os.environ.get("HEADROOM_GCP_BIGQUERY_ENDPOINT") or None,
        )
        return BigQueryBillingConnector(account.source_uri, client)
    raise ConnectorError(
        f"{account}: source {source!r} has no scheduled connector; upload FOCUS files instead"
    )


def test_connection(account: CloudAccount) -> list[ConnectionCheck]:
    """What Headroom can read for this account (never raises: failures become failed checks).
    Credential values an SDK put into its messages are replaced by their variables' names."""
    try:
        checks = build_connector(account).test_connection()
    except Exception as exc:  # noqa: BLE001 - shown to the analyst
        checks = [ConnectionCheck("setup", False, f"{type(exc).__name__}: {exc}")]
    return [dataclasses.replace(c, detail=scrub(c.detail)) for c in checks]


def split_fingerprint(source_uri: str) -> tuple[str, str | None]:
    uri, mark, fp = source_uri.partition(FINGERPRINT_MARK)
    return uri, (fp or None) if mark else None


def last_fingerprint(account_id: int, period_start: dt.date) -> str | None:
    """Fingerprint of the last successful load of this account × period, if the source had one."""
    uri = (
        IngestRun.objects.filter(
            account_id=account_id, period_start=period_start, status=RunStatus.SUCCEEDED
        )
        .filter(~Q(rows_stored=0) | Q(source_uri__contains=FINGERPRINT_MARK))
        .order_by("-finished_at", "-pk")
        .values_list("source_uri", flat=True)
        .first()
    )
    return split_fingerprint(uri)[1] if uri else None


def _finish_without_load(run: IngestRun, message: str) -> None:
    finish_run(run, result=LoadResult(version=""), warnings=[message])
    IngestRun.objects.filter(pk=run.pk).update(progress_message=message[:300])


def execute_connector_run(
    run_id: int, *, redelivered: bool = False, final_attempt: bool = True
) -> IngestRun:
    """Claim the run, read its account × period through the connector, load it atomically.

    Auth and data errors are recorded on the run (no retry). :class:`TransientError` is
    re-raised for the task to retry unless ``final_attempt``, when it is recorded too.
    Returns the run as stored.
    """
    if not claim_run(run_id, redelivered=redelivered):
        return IngestRun.objects.get(pk=run_id)
    with run_lease(run_id):  # renewed while this worker lives (services.run_lease)
        return _execute_claimed(run_id, final_attempt)


def _execute_claimed(run_id: int, final_attempt: bool) -> IngestRun:
    run = IngestRun.objects.select_related("account").get(pk=run_id)
    account = run.account
    try:
        if account is None or run.period_start is None:
            raise ConnectorError(
                f"run #{run.pk} has no account or billing period; connector runs need both"
            )
        connector = build_connector(account)
        read: PeriodRead = connector.read_period(
            run.period_start, known_fingerprint=last_fingerprint(account.pk, run.period_start)
        )
        uri = read.source_uri + (FINGERPRINT_MARK + read.fingerprint if read.fingerprint else "")
        IngestRun.objects.filter(pk=run.pk).update(source_uri=uri[:1000])
        if read.unchanged:
            _finish_without_load(
                run, f"{read.source_uri} unchanged since the last load (same ETags); not reloaded"
            )
            return IngestRun.objects.get(pk=run_id)
        batches = iter(read.batches)
        first = next(batches, None)
        if first is None:
            _finish_without_load(
                run, f"no billing records for {run.period_start:%Y-%m} yet; nothing changed"
            )
            return IngestRun.objects.get(pk=run_id)
        result = load_batches(
            itertools.chain([first], batches), account, run=run, progress=progress_reporter(run)
        )
        finish_run(run, result=result, warnings=read.warnings)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
        kind = classify(exc)
        if kind == "auth":
            finish_run(run, error=f"authentication failed, not retried: {exc}")
        elif kind == "transient":
            if not final_attempt:
                log.warning(
                    "run %s: transient failure, the task will retry: %s", run_id, scrub(str(exc))
                )
                if isinstance(exc, TransientError):
                    raise
                raise TransientError(scrub(f"{type(exc).__name__}: {exc}")) from exc
            finish_run(run, error=f"gave up after repeated transient failures: {exc}")
        elif isinstance(exc, (ConnectorError, LoadError, ValueError, OSError, KeyError)):
            errors = [str(e) for e in getattr(exc, "errors", [])] or [
                f"{type(exc).__name__}: {exc}"
            ]
            finish_run(run, errors=errors)
        else:
            message = f"unexpected {type(exc).__name__}: {exc}"
            finish_run(run, error=message)
            if scrub(message) != message:  # the traceback would carry a credential value
                raise ConnectorError(scrub(message)) from None
            raise
    return IngestRun.objects.get(pk=run_id)
