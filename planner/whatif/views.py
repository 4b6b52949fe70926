"""Services, recommendations and what-if pages. Thin: permission check, one service call, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from planner.core.http import bad_request, id_param_problem
from planner.core.models import Service
from planner.core.roles import ANALYST, has_role, require_owner_or_admin, role_required
from planner.plans.errors import PlanError
from planner.whatif import charts
from planner.whatif.forms import PARAMETER_FIELDS, DecisionForm, ScenarioForm, offer_choices
from planner.whatif.models import (
    Recommendation,
    RecommendationKind,
    RecommendationStatus,
    Scenario,
    ScenarioStatus,
    SloRisk,
)


def recommendations(request):
    status = request.GET.get("status", RecommendationStatus.OPEN)
    qs = Recommendation.objects.select_related("service", "decided_by")
    if status in RecommendationStatus.values:
        qs = qs.filter(status=status)
    for key in ("kind", "slo_risk"):
        if request.GET.get(key):
            qs = qs.filter(**{key: request.GET[key]})
    if request.GET.get("service"):
        qs = qs.filter(service__slug=request.GET["service"])
    summary = qs.aggregate(savings=Sum("monthly_savings_usd"), n=Count("pk"))
    page = Paginator(qs.order_by("-monthly_savings_usd", "pk"), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "whatif/recommendations.html",
        {
            "page": page,
            "summary": summary,
            "status": status,
            "statuses": RecommendationStatus.choices,
            "kinds": RecommendationKind.choices,
            "risks": SloRisk.choices,
            "services": Service.objects.all(),
            "decision_form": DecisionForm(),
            "query": request.GET.urlencode(),
        },
    )


@require_POST
@role_required(ANALYST)
def recommendation_decide(request, pk):
    rec = get_object_or_404(Recommendation, pk=pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        rec.decide(form.cleaned_data["status"], request.user, form.cleaned_data["reason"])
        messages.success(
            request,
            f"{rec.get_kind_display()} for {rec.service} {rec.get_status_display().lower()}.",
        )
        if rec.status == RecommendationStatus.ACCEPTED:
            _draft_plan(request, rec)
    else:
        messages.error(
            request, "Give a reason (at least 3 characters) to accept or dismiss a recommendation."
        )
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("recommendations")


def _draft_plan(request, rec) -> None:
    """An accepted recommendation becomes a draft plan of its Config (the what-if's path)."""
    from planner.whatif.services import plan_from_recommendation

    try:
        plan = plan_from_recommendation(rec, request.user)
    except PlanError as exc:
        messages.warning(request, f"Accepted, but no draft plan: {exc}")
        return
    messages.success(request, f"Draft plan v{plan.version} holds its configuration.")


@require_POST
@role_required(ANALYST)
def recommendations_refresh(request):
    from planner.whatif.tasks import refresh_recommendations

    refresh_recommendations.delay()
    messages.success(
        request, "Recommendations are being recomputed from the latest usage and bills."
    )
    return redirect("recommendations")


def whatif(request):
    initial = {
        "window_days": 7,
        "batch_size": 1,
        "quantisation": "fp16",
        "cache_hit_rate": 0.0,
        "warm_pool": 0,
        "commitment_term": "1y",
    }
    rec = None
    problem = id_param_problem(request.GET, "recommendation")
    if problem:
        return bad_request(request, problem)
    if request.GET.get("recommendation"):
        rec = get_object_or_404(Recommendation, pk=request.GET["recommendation"])
        initial.update({k: v for k, v in rec.proposal.items() if k in PARAMETER_FIELDS})
        initial["services"] = Service.objects.filter(slug__in=rec.proposal.get("services", []))
        initial["name"] = f"Recommendation #{rec.pk}: {rec.title}"[:200]
    elif request.GET.get("service"):
        initial["services"] = Service.objects.filter(slug__in=request.GET.getlist("service"))
    scenarios = Scenario.objects.select_related("created_by").prefetch_related("services")
    if request.GET.get("saved"):
        scenarios = scenarios.filter(saved=True)
    page = Paginator(scenarios, 20).get_page(request.GET.get("page"))
    offers = _offer_choices()
    return render(
        request,
        "whatif/whatif.html",
        {
            "form": ScenarioForm(initial=initial, offers=offers),
            "page": page,
            "recommendation": rec,
            "offers": offers,
        },
    )


def _offer_choices() -> list[tuple[str, str]]:
    return offer_choices()


@require_POST
@role_required(ANALYST)
def whatif_run(request):
    from planner.whatif.services import scenario_name
    from planner.whatif.tasks import enqueue_scenario

    form = ScenarioForm(request.POST, offers=_offer_choices())
    if not form.is_valid():
        page = Paginator(Scenario.objects.all(), 20).get_page(1)
        return render(
            request,
            "whatif/whatif.html",
            {"form": form, "page": page, "offers": _offer_choices()},
            status=400,
        )
    params = form.parameters()
    rec_id = request.POST.get("recommendation")
    s = Scenario.objects.create(
        name=form.cleaned_data["name"] or scenario_name(params),
        parameters=params,
        created_by=request.user,
        recommendation=Recommendation.objects.filter(pk=rec_id).first()
        if rec_id and rec_id.isdigit()
        else None,
        progress_message="Queued",
    )
    s.services.set(form.cleaned_data["services"])
    if not _eager():
        enqueue_scenario(s.pk)
    return redirect("scenario-detail", pk=s.pk)


def _eager() -> bool:
    """Development runs Celery eagerly; then the open page drives the run step by step."""
    from planner.celery import app

    return bool(app.conf.task_always_eager)


def scenario_detail(request, pk):
    s = get_object_or_404(Scenario.objects.prefetch_related("services"), pk=pk)
    context = {"scenario": s, "drive": _eager() and has_role(request.user, ANALYST)}
    if s.status == ScenarioStatus.SUCCEEDED:
        results = s.result.get("services", {})
        slug = (
            request.GET.get("service")
            if request.GET.get("service") in results
            else next(iter(results), None)
        )
        totals = s.result["totals"]
        cats = sorted(
            set(totals["baseline"]["monthly_cost_usd_by_category"])
            | set(totals["scenario"]["monthly_cost_usd_by_category"])
        )
        context.update(
            {
                "results": results,
                "totals": totals,
                "slug": slug,
                "chart_categories": charts.grouped_bars(
                    cats,
                    {
                        k: totals[k]["monthly_cost_usd_by_category"]
                        for k in ("baseline", "scenario")
                    },
                ),
            }
        )
        if slug:
            r = results[slug]
            context["chart_replicas"] = charts.per_minute(
                r["start"],
                {k: r["series"][k]["replicas"] for k in ("baseline", "scenario")},
                "ready replicas",
            )
            context["chart_latency"] = charts.per_minute(
                r["start"],
                {k: r["series"][k]["p95_latency_ms"] for k in ("baseline", "scenario")},
                "p95 latency (ms)",
                ref=r["slo_p95_ms"],
                ref_name="SLO",
            )
    return render(request, "whatif/scenario_detail.html", context)


def scenario_progress(request, pk):
    """GET: status JSON. POST (analysts, eager mode): run the next step first, then report."""
    s = get_object_or_404(Scenario, pk=pk)
    if request.method == "POST":
        if not has_role(request.user, ANALYST):
            return JsonResponse({"error": "running a scenario needs the analyst role"}, status=403)
        if _eager() and s.is_active:
            from planner.whatif.tasks import run_scenario

            run_scenario.apply(args=(s.pk,), kwargs={"max_steps": 1})
            s.refresh_from_db()
    return JsonResponse(
        {
            "status": s.status,
            "progress": s.progress,
            "message": s.progress_message or s.status,
            "error": s.error,
        }
    )


@require_POST
@role_required(ANALYST)
def scenario_save(request, pk):
    s = get_object_or_404(Scenario, pk=pk)
    require_owner_or_admin(request.user, s)
    s.saved = True
    if request.POST.get("name"):
        s.name = request.POST["name"][:200]
    s.save(update_fields=["saved", "name"])
    messages.success(request, f"Scenario “{s.name}” saved.")
    return redirect("scenario-detail", pk=s.pk)


@require_POST
@role_required(ANALYST)
def scenario_promote(request, pk):
    from planner.whatif.services import promote_to_plan

    s = get_object_or_404(Scenario, pk=pk)
    try:
        plan = promote_to_plan(s, request.user)
    except PlanError as exc:
        messages.error(request, f"Could not promote: {exc}")
        return redirect("scenario-detail", pk=s.pk)
    messages.success(request, f"Draft plan v{plan.version} created from this scenario.")
    return redirect("plan-detail", pk=plan.pk)


def scenario_compare(request):
    ids = [int(i) for i in request.GET.getlist("ids") if i.isdigit()][:6]
    scenarios = list(
        Scenario.objects.filter(pk__in=ids, status=ScenarioStatus.SUCCEEDED).order_by("pk")
    )
    cats = sorted(
        {
            c
            for s in scenarios
            for c in s.result["totals"]["scenario"]["monthly_cost_usd_by_category"]
        }
    )
    chart = (
        charts.grouped_bars(
            cats,
            {
                f"#{s.pk}": s.result["totals"]["scenario"]["monthly_cost_usd_by_category"]
                for s in scenarios
            },
        )
        if scenarios
        else None
    )
    return render(
        request, "whatif/compare.html", {"scenarios": scenarios, "categories": cats, "chart": chart}
    )
