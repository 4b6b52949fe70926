"""Pages of the usage app: the service page's unit-economics section and its settings form."""

from __future__ import annotations

import hashlib

from django import forms
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from planner.core.dashboard import cached
from planner.core.models import Service
from planner.core.roles import ANALYST, role_required
from planner.usage.models import ServiceServingTargets
from planner.usage.report import ESTIMATED, service_unit_economics


class ServingTargetsForm(forms.ModelForm):
    class Meta:
        model = ServiceServingTargets
        fields = [
            "ttft_slo_p95_ms",
            "itl_slo_p95_ms",
            "managed_api_name",
            "managed_usd_per_1m_input",
            "managed_usd_per_1m_output",
            "managed_price_source",
        ]


def _related_or_none(obj, name: str):
    """``obj``'s reverse one-to-one ``name`` (no query when it was select_related), or None."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def unit_economics_context(service, rng, deployments) -> dict:
    """Context for ``usage/_service_unit_economics.html`` (the service page includes it).
    The measured economics are cached per data version, range and the service's serving
    settings (targets, endpoints), as the page's other figures are. ``deployments``: the
    service's deployments with their ``serving_endpoint`` selected (the page lists them)."""
    targets = _related_or_none(service, "serving_targets")  # select_related by the page
    endpoints = [_related_or_none(d, "serving_endpoint") for d in deployments]
    served = sorted((e.pk, e.stack, e.metrics_mapping) for e in endpoints if e is not None)
    settings_key = repr((targets and targets.updated_at, served))
    digest = hashlib.sha256(settings_key.encode()).hexdigest()
    economics = cached(
        f"unit-economics:{service.pk}:{digest}",
        {"start": rng.start.isoformat(), "end": rng.end.isoformat()},
        lambda: {"economics": service_unit_economics(service, rng.start, rng.end)},
    )["economics"]
    return {
        "economics": economics,
        "economics_estimated_note": ESTIMATED,
        "serving_targets_form": ServingTargetsForm(instance=targets),
    }


@require_POST
@role_required(ANALYST)
def serving_targets(request, slug):
    service = get_object_or_404(Service, slug=slug)
    targets = _related_or_none(service, "serving_targets")
    form = ServingTargetsForm(request.POST, instance=targets)
    if form.is_valid():
        obj = form.save(commit=False)
        obj.service = service
        obj.save()
        messages.success(request, "Serving targets and managed-API price saved.")
    else:
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"Not saved — {errors}")
    return redirect("service-detail", slug=slug)
