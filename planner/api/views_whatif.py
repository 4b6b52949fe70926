"""API for recommendations (analysts accept/dismiss) and what-if scenarios (analysts create and
run; everyone reads results). Scenario input rules are the UI form's own (ScenarioForm), so the
API and the page accept exactly the same what-ifs."""

from __future__ import annotations

from django import forms
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from planner.api.filters import FilterBackend
from planner.api.views import Conflict, RoleViewSetMixin
from planner.core.roles import ANALYST
from planner.whatif.forms import DecisionForm, ScenarioForm
from planner.whatif.models import Recommendation, Scenario, ScenarioStatus
from planner.whatif.services import scenario_name
from planner.whatif.tasks import enqueue_scenario, refresh_recommendations


class RecommendationSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "kind",
            "service",
            "title",
            "monthly_savings_usd",
            "current_monthly_cost_usd",
            "confidence",
            "slo_risk",
            "evidence_start",
            "evidence_end",
            "assumptions",
            "evidence",
            "proposal",
            "status",
            "reason",
            "decided_by",
            "decided_at",
            "created_at",
        ]
        read_only_fields = fields


class DecisionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[c for c, _ in DecisionForm.base_fields["status"].choices]
    )
    reason = serializers.CharField(
        min_length=3, max_length=2000, help_text="Why: kept in the audit trail"
    )


class RecommendationViewSet(RoleViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Right-size, commitment, spot-share and threshold advice with savings (USD/month)."""

    queryset = Recommendation.objects.select_related("service", "decided_by").order_by(
        "-monthly_savings_usd", "id"
    )
    serializer_class = RecommendationSerializer
    action_roles = {"decide": ANALYST, "refresh": ANALYST}
    filter_backends = [FilterBackend]
    filterset_fields = ["status", "kind", "slo_risk", "service__slug"]

    @extend_schema(request=DecisionSerializer, responses=RecommendationSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Accept or dismiss, with a reason."""
        rec = self.get_object()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rec.decide(body.validated_data["status"], request.user, body.validated_data["reason"])
        return Response(RecommendationSerializer(rec).data)

    @extend_schema(request=None, responses={202: None})
    @action(detail=False, methods=["post"])
    def refresh(self, request):
        """Recompute every service's recommendations from the latest usage and bills (queued)."""
        refresh_recommendations.delay()
        return Response(status=status.HTTP_202_ACCEPTED)


def _drf_field(f: forms.Field) -> serializers.Field:
    """The DRF twin of a what-if form field (same bounds and choices; for the schema)."""
    kw = {"required": f.required, "help_text": str(f.help_text) or None}
    if isinstance(f, forms.ModelMultipleChoiceField):
        return serializers.ListField(child=serializers.SlugField(), min_length=1, **kw)
    if isinstance(f, forms.ChoiceField):
        return serializers.ChoiceField(choices=[c for c, _ in f.choices], allow_blank=True, **kw)
    if isinstance(f, forms.FloatField):  # a forms.IntegerField subclass: test it first
        return serializers.FloatField(
            min_value=f.min_value, max_value=f.max_value, allow_null=not f.required, **kw
        )
    if isinstance(f, forms.IntegerField):
        return serializers.IntegerField(
            min_value=f.min_value, max_value=f.max_value, allow_null=not f.required, **kw
        )
    return serializers.CharField(max_length=getattr(f, "max_length", None), allow_blank=True, **kw)


class ScenarioCreateSerializer(serializers.Serializer):
    """A what-if: `services` (slugs) plus any change; blank/absent fields keep the current value."""

    recommendation = serializers.IntegerField(
        required=False, allow_null=True, help_text="Recommendation this what-if reproduces, if any"
    )

    def get_fields(self):
        fields = {name: _drf_field(f) for name, f in ScenarioForm.base_fields.items()}
        fields.update(super().get_fields())
        return fields

    def validate(self, attrs):
        data = {k: ("" if v is None else v) for k, v in attrs.items() if k != "recommendation"}
        form = ScenarioForm(data)
        if not form.is_valid():
            raise serializers.ValidationError(
                {k: [str(e) for e in v] for k, v in form.errors.items()}
            )
        attrs["form"] = form
        return attrs


class ScenarioSerializer(serializers.ModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    totals = serializers.SerializerMethodField(
        help_text="Baseline vs scenario totals once finished"
    )

    class Meta:
        model = Scenario
        fields = [
            "id",
            "name",
            "services",
            "parameters",
            "status",
            "progress",
            "progress_message",
            "error",
            "saved",
            "recommendation",
            "created_by",
            "created_at",
            "finished_at",
            "totals",
        ]
        read_only_fields = fields

    def get_totals(self, obj) -> dict | None:
        return (obj.result or {}).get("totals")


class ScenarioViewSet(RoleViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """What-if scenarios: create (queues the simulation), run (re-queue), result."""

    queryset = (
        Scenario.objects.prefetch_related("services")
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )
    serializer_class = ScenarioSerializer
    write_role = ANALYST
    filter_backends = [FilterBackend]
    filterset_fields = ["status", "saved"]

    @extend_schema(request=ScenarioCreateSerializer, responses={202: ScenarioSerializer})
    def create(self, request, *args, **kwargs):
        body = ScenarioCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        form = body.validated_data["form"]
        params = form.parameters()
        rec_id = body.validated_data.get("recommendation")
        scenario = Scenario.objects.create(
            name=form.cleaned_data["name"] or scenario_name(params),
            parameters=params,
            created_by=request.user,
            recommendation=Recommendation.objects.filter(pk=rec_id).first() if rec_id else None,
            progress_message="Queued",
        )
        scenario.services.set(form.cleaned_data["services"])
        enqueue_scenario(scenario.pk)
        return Response(ScenarioSerializer(scenario).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ScenarioSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Queue the simulation again (idempotent: finished services are not re-simulated)."""
        scenario = self.get_object()
        if scenario.status in (ScenarioStatus.SUCCEEDED, ScenarioStatus.FAILED):
            raise Conflict(
                f"scenario {scenario.pk} has already {scenario.status}; create a new one to re-run"
            )
        enqueue_scenario(scenario.pk)
        return Response(ScenarioSerializer(scenario).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: {"type": "object", "additionalProperties": True}})
    @action(detail=True, methods=["get"])
    def result(self, request, pk=None):
        """Per-service baseline vs scenario figures and per-minute series (409 until finished)."""
        scenario = self.get_object()
        if scenario.status != ScenarioStatus.SUCCEEDED:
            raise Conflict(
                f"scenario {scenario.pk} is {scenario.status}: {scenario.error or scenario.progress_message}"
            )
        return Response(scenario.result)


def register(router) -> None:
    router.register("recommendations", RecommendationViewSet, basename="api-recommendation")
    router.register("scenarios", ScenarioViewSet, basename="api-scenario")
