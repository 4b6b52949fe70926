"""Plan pages, exports, AWS apply/rollback and the KEDA live-target endpoint (thin views)."""

from __future__ import annotations

import datetime as dt

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from planner.core.roles import ADMIN, ANALYST, role_required
from planner.plans import services
from planner.plans.errors import PlansError
from planner.plans.exports.validate import ManifestValidationError
from planner.plans.live_targets import target_at
from planner.plans.models import ClusterToken, Plan, PlanEvent, PlanStatus

AWS_ERRORS = (services.PlanError, BotoCoreError, ClientError, ManifestValidationError)


def plan_list(request):
    plans = Plan.objects.select_related("approved_by", "applied_by").prefetch_related("decisions")
    return render(request, "plans/list.html", {"plans": plans, "applied": Plan.current_applied()})


def plan_detail(request, pk: int):
    plan = get_object_or_404(Plan.objects.select_related("approved_by", "applied_by"), pk=pk)
    applied = Plan.current_applied()
    diff = services.plan_diff(plan)
    drift_event = plan.events.filter(kind=PlanEvent.Kind.DRIFT_CHECK).first()
    try:
        manifest_paths, export_error = services.bundle_for(plan).manifest_paths(), ""
    except PlansError as exc:
        manifest_paths, export_error = [], str(exc)
    return render(
        request,
        "plans/detail.html",
        {
            "plan": plan,
            "decisions": plan.decisions.select_related("service"),
            "applied": applied,
            "diff": diff,
            "events": plan.events.select_related("user")[:20],
            "drift_event": drift_event,
            "has_aws": plan.decisions.filter(aws_target__isnull=False).exists(),
            "previous": services.previous_applied(plan)
            if plan.status == PlanStatus.APPLIED
            else None,
            "manifest_paths": manifest_paths,
            "export_error": export_error,
        },
    )


@require_POST
@role_required(ANALYST)
def plan_approve(request, pk: int):
    plan = get_object_or_404(Plan, pk=pk)
    try:
        services.approve_plan(plan, request.user)
        messages.success(request, f"Plan v{plan.version} approved.")
    except services.PlanError as exc:
        messages.error(request, str(exc))
    return redirect("plan-detail", pk=pk)


@require_POST
@role_required(ADMIN)
def plan_mark_applied(request, pk: int):
    """For GitOps: record that the exported manifests were merged and rolled out."""
    plan = get_object_or_404(Plan, pk=pk)
    try:
        services.mark_applied(plan, request.user, "manifests rolled out via GitOps")
        messages.success(request, f"Plan v{plan.version} is now the applied plan.")
    except services.PlanError as exc:
        messages.error(request, str(exc))
    return redirect("plan-detail", pk=pk)


def _bundle(request, plan: Plan):
    autoscaler = request.GET.get("autoscaler", "keda")
    if autoscaler not in ("keda", "hpa"):
        raise Http404("autoscaler must be keda or hpa")
    live = request.build_absolute_uri("/") if request.GET.get("live") == "1" else None
    return services.bundle_for(plan, autoscaler, live)


@require_GET
def plan_export_zip(request, pk: int):
    plan = get_object_or_404(Plan, pk=pk)
    data = _bundle(request, plan).to_zip()
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="headroom-plan-v{plan.version}.zip"'
    return response


@require_GET
def plan_manifest(request, pk: int, path: str):
    plan = get_object_or_404(Plan, pk=pk)
    files = _bundle(request, plan).files
    if path not in files:
        raise Http404(f"no file {path} in plan v{plan.version}")
    kind = "text/markdown" if path.endswith(".md") else "application/yaml"
    response = HttpResponse(files[path], content_type=f"{kind}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{path.rsplit("/", 1)[-1]}"'
    return response


@require_POST
@role_required(ADMIN)
def plan_aws_apply(request, pk: int):
    plan = get_object_or_404(Plan, pk=pk)
    try:
        changes = services.apply_to_aws(plan, request.user)
        messages.success(request, f"Applied plan v{plan.version} to AWS: {len(changes)} change(s).")
    except AWS_ERRORS as exc:
        messages.error(request, f"AWS apply failed: {exc}")
    return redirect("plan-detail", pk=pk)


@require_POST
@role_required(ADMIN)
def plan_aws_rollback(request, pk: int):
    plan = get_object_or_404(Plan, pk=pk)
    try:
        previous, changes = services.rollback_aws(plan, request.user)
        messages.success(
            request, f"Rolled back to plan v{previous.version}: {len(changes)} change(s) on AWS."
        )
        return redirect("plan-detail", pk=previous.pk)
    except AWS_ERRORS as exc:
        messages.error(request, f"Rollback failed: {exc}")
    return redirect("plan-detail", pk=pk)


@require_POST
@role_required(ANALYST)
def plan_aws_drift(request, pk: int):
    plan = get_object_or_404(Plan, pk=pk)
    try:
        drift = services.check_aws_drift(plan, request.user)
        messages.info(request, f"AWS drift check: {len(drift)} difference(s).")
    except AWS_ERRORS as exc:
        messages.error(request, f"AWS drift check failed: {exc}")
    return redirect("plan-detail", pk=pk)


@require_POST
def plan_manifest_drift(request, pk: int):
    """Compare pasted/uploaded ``kubectl get -o yaml`` output with the plan (read-only)."""
    plan = get_object_or_404(Plan, pk=pk)
    upload = request.FILES.get("reported_file")
    text = upload.read().decode("utf-8", "replace") if upload else request.POST.get("reported", "")
    if not text.strip():
        messages.error(
            request, "Paste or upload the cluster's manifests (kubectl get ... -o yaml)."
        )
        return redirect("plan-detail", pk=pk)
    try:
        drift = services.manifest_drift(plan, text, request.user)
        messages.info(request, f"Cluster drift check: {len(drift)} difference(s).")
    except services.PlanError as exc:
        messages.error(request, str(exc))
    return redirect("plan-detail", pk=pk)


def tokens(request):
    return render(
        request,
        "plans/tokens.html",
        {"tokens": ClusterToken.objects.select_related("created_by"), "new_token": None},
    )


@require_POST
@role_required(ADMIN)
def token_create(request):
    """Issue a cluster token and show it once in this response (it is not stored)."""
    cluster = request.POST.get("cluster", "").strip()
    if not cluster:
        messages.error(request, "Name the cluster the token is for.")
        return redirect("plan-tokens")
    row, raw = ClusterToken.issue(cluster, request.user, request.POST.get("name", "").strip())
    return render(
        request,
        "plans/tokens.html",
        {
            "tokens": ClusterToken.objects.select_related("created_by"),
            "new_token": raw,
            "new_row": row,
        },
    )


@require_POST
@role_required(ADMIN)
def token_revoke(request, pk: int):
    ClusterToken.objects.filter(pk=pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    messages.success(request, "Token revoked.")
    return redirect("plan-tokens")


@login_not_required
@require_GET
def keda_targets(request, service_slug: str):
    """KEDA metrics-api endpoint: the applied plan's current target for one service."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    token = ClusterToken.authenticate(raw.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        response = JsonResponse({"error": "missing or invalid bearer token"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="headroom-keda"'
        return response
    plan = Plan.current_applied()
    row = (
        plan.decisions.select_related("service").filter(service__slug=service_slug).first()
        if plan
        else None
    )
    if row is None or row.cluster != token.cluster:
        return JsonResponse(
            {"error": f"no applied plan decision for {service_slug} on cluster {token.cluster}"},
            status=404,
        )
    decision = row.to_dataclass()
    now = timezone.now()
    live = target_at(decision, now)
    body = live.as_json(
        decision,
        {
            "cluster": token.cluster,
            "plan_version": plan.version,
            "at": now.astimezone(dt.UTC).isoformat(),
        },
    )
    return JsonResponse(body, headers={"Cache-Control": "no-store"})
