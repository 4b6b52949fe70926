"""API for plans: list/detail, approve (analysts), mark applied (admins), export bundles."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from planner.api.filters import FilterBackend
from planner.api.views import Conflict, RoleViewSetMixin
from planner.core.roles import ADMIN, ANALYST
from planner.plans import services
from planner.plans.models import Plan, PlanDecision


class PlanDecisionSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = PlanDecision
        exclude = ["plan"]


class PlanSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    approved_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    applied_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    decisions = PlanDecisionSerializer(many=True, read_only=True)

    class Meta:
        model = Plan
        fields = [
            "id",
            "version",
            "name",
            "status",
            "notes",
            "source_scenario_id",
            "expected_monthly_cost_usd",
            "slo_attainment",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
            "applied_by",
            "applied_at",
            "decisions",
        ]
        read_only_fields = fields


AUTOSCALER = OpenApiParameter("autoscaler", OpenApiTypes.STR, enum=["keda", "hpa"], default="keda")


class PlanViewSet(RoleViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Plans; analysts approve, admins record a GitOps roll-out. Exports are YAML/zip bundles."""

    queryset = (
        Plan.objects.prefetch_related("decisions__service")
        .select_related("created_by", "approved_by", "applied_by")
        .order_by("-version")
    )
    serializer_class = PlanSerializer
    action_roles = {"approve": ANALYST, "mark_applied": ADMIN}
    filter_backends = [FilterBackend]
    filterset_fields = ["status"]

    def _transition(self, fn, *args):
        plan = self.get_object()
        try:
            fn(plan, self.request.user, *args)
        except services.PlanError as exc:
            raise Conflict(str(exc)) from None
        return Response(PlanSerializer(self.get_queryset().get(pk=plan.pk)).data)

    @extend_schema(request=None, responses=PlanSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a draft plan (409 with the reason when it cannot be approved)."""
        return self._transition(services.approve_plan)

    @extend_schema(request=None, responses=PlanSerializer)
    @action(detail=True, methods=["post"], url_path="mark-applied")
    def mark_applied(self, request, pk=None):
        """Record that the exported manifests were merged and rolled out (GitOps)."""
        return self._transition(services.mark_applied, "manifests rolled out via GitOps (API)")

    def _bundle(self):
        autoscaler = self.request.query_params.get("autoscaler", "keda")
        if autoscaler not in ("keda", "hpa"):
            raise ValidationError({"autoscaler": "autoscaler must be keda or hpa"})
        return services.bundle_for(self.get_object(), autoscaler, None)

    @extend_schema(
        parameters=[AUTOSCALER], responses={(200, "application/zip"): OpenApiTypes.BINARY}
    )
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request, pk=None):
        """The plan's autoscaler manifests (KEDA or HPA, Karpenter NodePools) as a zip."""
        plan = self.get_object()
        resp = HttpResponse(self._bundle().to_zip(), content_type="application/zip")
        resp["Content-Disposition"] = f'attachment; filename="headroom-plan-v{plan.version}.zip"'
        return resp

    @extend_schema(
        parameters=[AUTOSCALER],
        responses={200: {"type": "object", "additionalProperties": {"type": "string"}}},
    )
    @action(detail=True, methods=["get"])
    def files(self, request, pk=None):
        """The same bundle as {path: file text}."""
        return Response(dict(self._bundle().files))


def register(router) -> None:
    router.register("plans", PlanViewSet, basename="api-plan")
