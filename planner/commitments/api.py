"""``/api/v1/commitments/``: the inventory as JSON (viewers read)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from planner.api.permissions import HasRole
from planner.commitments import inventory as inv
from planner.core.dashboard import parse_range


class AdviceSerializer(serializers.Serializer):
    action = serializers.CharField()
    text = serializers.CharField()
    unit = serializers.CharField()
    current_units_per_hour = serializers.FloatField()
    recommended_units_per_hour = serializers.FloatField()
    discount_ratio = serializers.FloatField()
    evidence_hours = serializers.IntegerField()
    cost_current_per_30d = serializers.FloatField()
    cost_recommended_per_30d = serializers.FloatField()
    savings_per_30d = serializers.FloatField()


class CommitmentRowSerializer(serializers.Serializer):
    commitment_id = serializers.CharField(source="commitment.commitment_id")
    name = serializers.CharField(source="commitment.name")
    type = serializers.CharField(source="commitment.commitment_type")
    category = serializers.CharField(source="commitment.category")
    provider = serializers.CharField(source="commitment.provider")
    account = serializers.IntegerField(source="commitment.account_id", allow_null=True)
    quantity = serializers.DecimalField(
        source="commitment.quantity", max_digits=20, decimal_places=6, allow_null=True
    )
    unit = serializers.CharField(source="commitment.unit")
    term_cost = serializers.DecimalField(
        source="commitment.term_cost", max_digits=20, decimal_places=6, allow_null=True
    )
    currency = serializers.CharField(source="commitment.currency")
    period_start = serializers.DateField(source="commitment.period_start", allow_null=True)
    period_end = serializers.DateField(source="commitment.period_end", allow_null=True)
    days_left = serializers.IntegerField(allow_null=True)
    expiring = serializers.BooleanField()
    alert_days = serializers.IntegerField(source="commitment.alert_days")
    sources = serializers.ListField(child=serializers.CharField(), source="commitment.sources")
    used_cost = serializers.FloatField(source="usage.used_cost", allow_null=True, default=None)
    unused_cost = serializers.FloatField(source="usage.unused_cost", allow_null=True, default=None)
    utilisation = serializers.FloatField(source="usage.utilisation", allow_null=True, default=None)
    coverage = serializers.FloatField(source="usage.coverage", allow_null=True, default=None)
    advice = AdviceSerializer(allow_null=True)


class CommitmentInventoryView(GenericAPIView):
    """Every reservation, savings plan and committed-use discount with utilisation, coverage,
    unused cost (reporting currency) over ?start=&end= (default: the last 30 days with
    data), expiry and renew / resize advice."""

    permission_classes = [HasRole]
    serializer_class = CommitmentRowSerializer
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day of evidence"),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day of evidence"),
        ],
        responses=CommitmentRowSerializer(many=True),
    )
    def get(self, request):
        rng = parse_range(request.query_params)
        rows = inv.inventory(rng.start, rng.end)
        return Response(self.get_serializer(rows, many=True).data)
