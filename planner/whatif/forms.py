"""What-if and recommendation-decision forms. Blank what-if fields mean "keep the current value"."""

from __future__ import annotations

from django import forms

from costmodels.capacity import QUANT_SPEEDUP
from costmodels.catalog import MIG_PROFILES
from costmodels.results import METRICS
from planner.core.models import Service
from planner.whatif.models import RecommendationStatus

MIG_CHOICES = [("", "No MIG (whole GPUs)")] + sorted(
    {(p.name, p.name) for ps in MIG_PROFILES.values() for p in ps}
)
PARAMETER_FIELDS = (
    "window_days",
    "instance_type",
    "mig_profile",
    "batch_size",
    "quantisation",
    "cache_hit_rate",
    "warm_pool",
    "committed_replicas",
    "spot_share",
    "commitment_term",
    "metric",
    "target",
    "min_replicas",
    "max_replicas",
    "scale_down_stabilisation_s",
    "cooldown_s",
    "polling_interval_s",
    "scale_up_stabilisation_s",
    "max_batch_wait_ms",
)


def offer_choices() -> list[tuple[str, str]]:
    """(instance type, label) for every offer in the providers and regions deployments run
    in; the label says GPU, MIG profiles and on-demand price."""
    from planner.core.models import Deployment
    from planner.whatif.engine import catalog

    places = sorted(set(Deployment.objects.values_list("provider", "region")))
    out = {}
    for p, r in places:
        for o in catalog().offers(provider=p, region=r):
            mig = f", MIG {'/'.join(m.name for m in o.mig_profiles)}" if o.mig_profiles else ""
            out.setdefault(
                o.instance_type,
                (
                    f"{o.instance_type} — {o.gpu_count:g}× {o.gpu_model}{mig}, {p} {r}, "
                    f"${o.ondemand_usd_per_hour:.2f}/h"
                ),
            )
    return sorted(out.items())


class ScenarioForm(forms.Form):
    name = forms.CharField(
        max_length=200, required=False, help_text="Optional; a name is made from the changes"
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(),
        to_field_name="slug",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    window_days = forms.IntegerField(
        min_value=1, max_value=30, initial=7, help_text="Days of recorded demand to replay"
    )
    instance_type = forms.ChoiceField(
        choices=[("", "Current")],
        required=False,
        help_text="GPU offers in the services' providers and regions (MIG slices: pick the profile)",
    )
    mig_profile = forms.ChoiceField(choices=MIG_CHOICES, required=False, label="MIG profile")
    batch_size = forms.IntegerField(min_value=1, max_value=256, initial=1)
    quantisation = forms.ChoiceField(
        choices=[(q, q.upper()) for q in QUANT_SPEEDUP], initial="fp16"
    )
    cache_hit_rate = forms.FloatField(
        min_value=0.0,
        max_value=0.99,
        initial=0.0,
        help_text="Share of requests answered from cache (0-0.99)",
    )
    warm_pool = forms.IntegerField(
        min_value=0, max_value=100, initial=0, help_text="Stopped, initialised instances kept ready"
    )
    committed_replicas = forms.IntegerField(
        min_value=0, max_value=1000, required=False, help_text="Blank = as billed now"
    )
    spot_share = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        help_text="Of replicas above the commitment, 0-1; blank = as billed now",
    )
    commitment_term = forms.ChoiceField(choices=[("1y", "1 year"), ("3y", "3 years")], initial="1y")
    metric = forms.ChoiceField(
        choices=[("", "Current (GPU utilisation)")] + [(m, m.replace("_", " ")) for m in METRICS],
        required=False,
    )
    target = forms.FloatField(
        min_value=0.001,
        required=False,
        help_text="Per replica, in the metric's unit; blank = 70 % GPU utilisation",
    )
    min_replicas = forms.IntegerField(min_value=0, max_value=1000, required=False)
    max_replicas = forms.IntegerField(min_value=1, max_value=1000, required=False)
    scale_down_stabilisation_s = forms.IntegerField(
        min_value=0, max_value=3600, required=False, label="Scale-down window (s)"
    )
    cooldown_s = forms.IntegerField(
        min_value=0, max_value=3600, required=False, label="Cooldown (s)"
    )
    polling_interval_s = forms.IntegerField(
        min_value=1,
        max_value=3600,
        required=False,
        label="Polling interval (s)",
        help_text="How often the autoscaler reads its metric; blank = 30 s",
    )
    scale_up_stabilisation_s = forms.IntegerField(
        min_value=0,
        max_value=3600,
        required=False,
        label="Scale-up window (s)",
        help_text="Lowest recommendation over this window is applied; blank = 0 s",
    )
    max_batch_wait_ms = forms.FloatField(
        min_value=0.0,
        max_value=60000.0,
        required=False,
        label="Batch wait (ms)",
        help_text="Longest a request waits for its batch to fill; blank = the modality default",
    )

    def __init__(self, *args, offers: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        offers = offer_choices() if offers is None else offers
        self.fields["instance_type"].choices = [("", "Current")] + list(offers)

    def clean(self):
        data = super().clean()
        lo, hi = data.get("min_replicas"), data.get("max_replicas")
        if lo is not None and hi is not None and lo > hi:
            self.add_error("max_replicas", "must be at least the minimum replicas")
        if data.get("metric") and data.get("target") is None:
            self.add_error("target", "give a target for the chosen metric")
        return data

    def parameters(self) -> dict:
        d = self.cleaned_data
        params = {"services": [s.slug for s in d["services"]]}
        for f in PARAMETER_FIELDS:
            if d.get(f) not in (None, ""):
                params[f] = d[f]
        return params


class DecisionForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (RecommendationStatus.ACCEPTED, "Accept"),
            (RecommendationStatus.DISMISSED, "Dismiss"),
        ]
    )
    reason = forms.CharField(
        min_length=3,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why: kept in the audit trail",
    )
