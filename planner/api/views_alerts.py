"""API for anomalies (read; analysts acknowledge/resolve) and budgets (analysts manage)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from planner.alerts import webhooks
from planner.alerts.budgets import budget_status
from planner.alerts.forms import clean_webhook
from planner.alerts.models import Anomaly, AnomalyStatus, Budget, BudgetScope
from planner.api.filters import FilterBackend
from planner.api.permissions import HasRole, OwnerOrAdminToChange
from planner.api.views import RoleViewSetMixin
from planner.core.roles import ANALYST


class AnomalySerializer(serializers.ModelSerializer):
    status_changed_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Anomaly
        fields = [
            "id",
            "series_key",
            "series_label",
            "dimensions",
            "start",
            "end",
            "direction",
            "actual_usd",
            "expected_usd",
            "impact_usd",
            "score",
            "root_cause",
            "status",
            "status_changed_by",
            "status_changed_at",
            "note",
            "detected_at",
            "updated_at",
        ]
        read_only_fields = fields


class AnomalyStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AnomalyStatus.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AnomalyViewSet(RoleViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Cost anomalies; analysts acknowledge or resolve them."""

    queryset = Anomaly.objects.select_related("status_changed_by").order_by("-start", "-id")
    serializer_class = AnomalySerializer
    action_roles = {"set_status": ANALYST}
    filter_backends = [FilterBackend]
    filterset_fields = ["status", "direction", "series_key"]

    @extend_schema(request=AnomalyStatusSerializer, responses=AnomalySerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        anomaly = self.get_object()
        body = AnomalyStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        Anomaly.objects.filter(pk=anomaly.pk).update(
            status=body.validated_data["status"],
            note=body.validated_data.get("note") or anomaly.note,
            status_changed_by=request.user,
            status_changed_at=timezone.now(),
        )
        anomaly.refresh_from_db()
        return Response(AnomalySerializer(anomaly).data)


class BudgetSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Budget
        fields = [
            "id",
            "name",
            "scope",
            "account",
            "service",
            "tag_value",
            "period",
            "amount_usd",
            "actual_thresholds",
            "forecast_thresholds",
            "recipients",
            "webhook_url",
            "webhook",
            "active",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["created_by", "created_at"]
        # Webhook URLs carry their token: accepted, never returned (`webhook` shows the host).
        extra_kwargs = {"webhook_url": {"write_only": True}}

    webhook = serializers.SerializerMethodField(
        help_text="The webhook's scheme and host ('' when none); the URL itself is write-only"
    )

    def get_webhook(self, budget) -> str:
        return webhooks.redact(budget.webhook_url) if budget.webhook_url else ""

    def validate_webhook_url(self, value: str) -> str:
        try:
            return clean_webhook(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate(self, attrs):
        merged = {
            f: attrs.get(f, getattr(self.instance, f, None))
            for f in ("scope", "account", "service", "tag_value")
        }
        need = {
            BudgetScope.ACCOUNT: "account",
            BudgetScope.SERVICE: "service",
            BudgetScope.TAG: "tag_value",
        }
        field = need.get(merged["scope"] or BudgetScope.TOTAL)
        if field and not merged[field]:
            raise serializers.ValidationError(
                {field: f"Required when the scope is {merged['scope']}."}
            )
        return attrs


class BudgetViewSet(RoleViewSetMixin, viewsets.ModelViewSet):
    """Budgets with actual and forecast thresholds (analysts manage them)."""

    queryset = Budget.objects.select_related("account", "service", "created_by").order_by(
        "name", "id"
    )
    serializer_class = BudgetSerializer
    write_role = ANALYST
    permission_classes = [HasRole, OwnerOrAdminToChange]
    filter_backends = [FilterBackend]
    filterset_fields = ["scope", "period", "active", "service", "account"]

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @extend_schema(
        responses=inline_serializer(
            "BudgetStatus",
            {
                "budget_id": serializers.IntegerField(),
                "period_key": serializers.CharField(),
                "period_start": serializers.DateField(),
                "period_end": serializers.DateField(),
                "as_of": serializers.DateField(allow_null=True),
                "amount_usd": serializers.FloatField(),
                "spend_usd": serializers.FloatField(),
                "forecast_usd": serializers.FloatField(),
                "forecast_lower_usd": serializers.FloatField(),
                "forecast_upper_usd": serializers.FloatField(),
                "forecast_method": serializers.CharField(),
                "spend_pct": serializers.FloatField(),
                "forecast_pct": serializers.FloatField(),
                "top_services": serializers.ListField(child=serializers.ListField()),
                "top_skus": serializers.ListField(child=serializers.ListField()),
            },
        ),
        parameters=[
            OpenApiParameter(
                "date", OpenApiTypes.DATE, description="Day inside the period (default today)"
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def status(self, request, pk=None):
        """Spend so far and forecast at period end for the budget's period containing `date` (USD)."""
        budget = self.get_object()
        raw = request.query_params.get("date")
        try:
            day = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            raise ValidationError({"date": f"{raw!r} is not a date; use YYYY-MM-DD"}) from None
        st = budget_status(budget, today=day)
        data = dataclasses.asdict(st)
        data.update(spend_pct=st.spend_pct, forecast_pct=st.forecast_pct)
        data["top_services"] = [list(x) for x in data["top_services"]]
        data["top_skus"] = [list(x) for x in data["top_skus"]]
        return Response(data)


def register(router) -> None:
    router.register("anomalies", AnomalyViewSet, basename="api-anomaly")
    router.register("budgets", BudgetViewSet, basename="api-budget")
