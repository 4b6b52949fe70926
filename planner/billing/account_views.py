"""Cloud accounts: what Headroom reads, a "test connection" per account, and "run now" for analysts.

Thin views: the connection test is :func:`planner.billing.connectors.test_connection` (every
SDK call has a timeout, so the page never hangs for long), "run now" is
:func:`planner.billing.scheduling.queue_account` (one run per due billing period; periods
with an active run are skipped, the database refuses duplicates).
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Max
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from planner.billing import connectors, scheduling
from planner.billing.models import IngestRun, RunStatus
from planner.core.models import CloudAccount
from planner.core.roles import ANALYST, role_required


def _rows():
    latest = dict(
        IngestRun.objects.filter(account__isnull=False)
        .values_list("account_id")
        .annotate(last=Max("pk"))
    )
    runs = IngestRun.objects.in_bulk(list(latest.values()))
    active = set(
        IngestRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).values_list(
            "account_id", flat=True
        )
    )
    return [
        {
            "account": a,
            "scheduled": a.source in connectors.CONNECTOR_SOURCES,
            "last_run": runs.get(latest.get(a.pk)),
            "active": a.pk in active,
        }
        for a in CloudAccount.objects.all()
    ]


def accounts(request, tested: CloudAccount | None = None, checks=None):
    return render(
        request, "billing/accounts.html", {"rows": _rows(), "tested": tested, "checks": checks}
    )


@require_POST
@role_required(ANALYST)
def account_test(request, pk: int):
    account = get_object_or_404(CloudAccount, pk=pk)
    checks = connectors.test_connection(account)
    return accounts(request, tested=account, checks=checks)


@require_POST
@role_required(ANALYST)
def account_run(request, pk: int):
    account = get_object_or_404(CloudAccount, pk=pk)
    if account.source not in connectors.CONNECTOR_SOURCES:
        messages.error(
            request, f"{account.name} is loaded from FOCUS files; upload one on the Ingestion page."
        )
        return redirect("accounts")
    queued = scheduling.queue_account(account, timezone.now(), user=request.user, backfill=False)
    if queued:
        messages.success(
            request,
            f"Queued {len(queued)} ingest run(s) for {account.name}: "
            + ", ".join(f"#{pk}" for pk in queued),
        )
    else:
        messages.info(
            request, f"{account.name}: every due billing period already has a run in progress."
        )
    return redirect("accounts")
