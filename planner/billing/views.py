from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from planner.billing import services
from planner.billing.forms import FocusUploadForm
from planner.billing.models import IngestRun
from planner.billing.tasks import enqueue_focus_ingest
from planner.billing.uploads import save_upload
from planner.core.models import CloudAccount
from planner.core.roles import ANALYST, role_required


def runs(request):
    page = Paginator(IngestRun.objects.select_related("account"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "billing/runs.html",
        {
            "page": page,
            "form": FocusUploadForm(),
            "accounts": CloudAccount.objects.all(),
            "max_upload_mb": settings.HEADROOM_MAX_UPLOAD_MB,
        },
    )


def run_detail(request, pk: int):
    run = get_object_or_404(IngestRun.objects.select_related("account"), pk=pk)
    return render(request, "billing/run_detail.html", {"run": run})


def run_status(request, pk: int):
    run = get_object_or_404(IngestRun, pk=pk)
    return JsonResponse(
        {
            "id": run.pk,
            "status": run.status,
            "progress": run.progress,
            "message": run.progress_message,
            "rows_read": run.rows_read,
            "rows_stored": run.rows_stored,
        }
    )


@require_POST
@role_required(ANALYST)
def upload(request):
    form = FocusUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for field, errs in form.errors.items():
            for e in errs:
                messages.error(request, f"{field}: {e}")
        return redirect("ingest-runs")
    f = form.cleaned_data["file"]
    dest = save_upload(f)  # a random name, never the client's; local or object store
    run = services.create_run(form.cleaned_data["account"], "focus_file", dest, user=request.user)
    enqueue_focus_ingest(run.pk, form.cleaned_data["allow_mixed_currency"])
    messages.success(request, f"Uploaded {f.name}; ingest run #{run.pk} queued.")
    return redirect("ingest-run", pk=run.pk)
