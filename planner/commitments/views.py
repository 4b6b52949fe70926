"""Commitments pages: the inventory with its expiry calendar, the Contract Commitment upload
and the expiry alert rules. Thin: permission, one service call, render."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ingest.errors import IngestError
from ingest.focus.errors import FocusValidationError
from planner.api.exports import requested_format, table_response
from planner.billing.currency import rate_note
from planner.billing.models import CostRollup
from planner.commitments import inventory as inv
from planner.commitments.contracts import import_contract_commitments
from planner.commitments.errors import ContractFileError
from planner.commitments.forms import ContractUploadForm, ExpiryAlertRuleForm
from planner.commitments.models import ExpiryAlertRule
from planner.core.dashboard import parse_range
from planner.core.roles import ANALYST, role_required

EXPORT_HEADER = [
    "commitment_id",
    "name",
    "type",
    "category",
    "provider",
    "period_start",
    "period_end",
    "days_left",
    "used_cost",
    "unused_cost",
    "utilisation",
    "coverage",
    "advice",
    "current_units_per_hour",
    "recommended_units_per_hour",
    "savings_per_30d",
    "sources",
]


def export_rows(rows: list[inv.InventoryRow]) -> list[list]:
    out = []
    for r in rows:
        c, u, a = r.commitment, r.usage, r.advice
        out.append(
            [
                c.commitment_id,
                c.name,
                c.commitment_type,
                c.category,
                c.provider,
                c.period_start,
                c.period_end,
                r.days_left,
                u.used_cost if u else None,
                u.unused_cost if u else None,
                u.utilisation if u else None,
                u.coverage if u else None,
                a.action if a else None,
                a.current_units_per_hour if a else None,
                a.recommended_units_per_hour if a else None,
                a.savings_per_30d if a else None,
                ",".join(c.sources),
            ]
        )
    return out


def commitments(request):
    rng = parse_range(request.GET)
    rows = inv.inventory(rng.start, rng.end)
    fmt = requested_format(request)
    if fmt:
        name = f"headroom-commitments-{rng.start}-{rng.end}"
        return table_response(fmt, name, EXPORT_HEADER, export_rows(rows))
    context = {
        "rng": rng,
        "rows": rows,
        "totals": inv.totals(rows),
        "calendar": inv.expiry_calendar(rows),
        "rate_note": rate_note(CostRollup.objects.filter(date__gte=rng.start, date__lte=rng.end)),
        "upload_form": ContractUploadForm(),
        "rule_form": ExpiryAlertRuleForm(),
        "rules": ExpiryAlertRule.objects.order_by("name"),
        "export_query": urlencode({"start": rng.start, "end": rng.end}),
    }
    return render(request, "commitments/inventory.html", context)


@require_POST
@role_required(ANALYST)
def upload_contract(request):
    form = ContractUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for err in form.errors.values():
            messages.error(request, "; ".join(err))
        return redirect("commitments")
    upload = form.cleaned_data["file"]
    suffix = "".join(Path(upload.name).suffixes[-2:]) or ".csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"contract{suffix}"
        with path.open("wb") as f:
            for chunk in upload.chunks():
                f.write(chunk)
        try:
            result = import_contract_commitments(path, form.cleaned_data["account"])
        except FocusValidationError as exc:
            for e in (exc.errors or [])[:20]:
                messages.error(request, str(e).replace(str(path), upload.name))
            if not exc.errors:
                messages.error(request, str(exc).replace(str(path), upload.name))
            return redirect("commitments")
        except (ContractFileError, IngestError, OSError) as exc:
            messages.error(request, str(exc).replace(str(path), upload.name))
            return redirect("commitments")
    messages.success(
        request,
        f"{upload.name}: FOCUS {result.version} Contract Commitment, {result.rows} rows — "
        f"{result.created} commitments added, {result.updated} updated.",
    )
    return redirect("commitments")


@require_POST
@role_required(ANALYST)
def add_rule(request):
    form = ExpiryAlertRuleForm(request.POST)
    if form.is_valid():
        rule = form.save()
        messages.success(request, f"Expiry alert rule “{rule.name}” saved.")
    else:
        for field, err in form.errors.items():
            messages.error(request, f"{field}: {'; '.join(err)}")
    return redirect("commitments")
